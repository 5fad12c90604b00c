"""Fixtures for the pipeline's tests: a JetStream server when a test shares the log's
partitions between workers (started once per session, only if a test asks)."""

from __future__ import annotations

from tests.nats_server import nats_server_url

__all__ = ["nats_server_url"]
