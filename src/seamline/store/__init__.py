"""Storage: the state store (SQL via SQLAlchemy Core) and the event store (DuckDB)."""
