"""Profiles Sync: Segment's identity-graph and profile tables, kept current in a warehouse or
the lake (see docs/profiles-sync.md)."""
