"""The roles' names."""

COLLECT, PIPELINE, DELIVER = "collect", "pipeline", "deliver"
ALL_ROLES = frozenset({COLLECT, PIPELINE, DELIVER})
EXCLUSIVE_ROLES = frozenset({PIPELINE, DELIVER})
"""Roles of which one process per data directory may run (embedded mode): the local log's
offsets and the outbox's leases are not shared between processes of one data directory."""
ROLES = (COLLECT, PIPELINE, DELIVER, "all")
"""What `serve --role` takes: one role, or `all` in one process."""
