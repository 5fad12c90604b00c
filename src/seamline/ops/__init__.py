"""Operations that several surfaces (the CLI, the management API) share: replay and rebuild,
destination test and replay, Engage compute and estimate, and reading the log and event store."""
