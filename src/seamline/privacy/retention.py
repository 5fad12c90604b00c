"""Retention: how long the log and the event store keep a workspace's messages.

A workspace picks one of Segment's periods (`30d` … `3y`) or `unlimited` (the default). It
counts from a message's `receivedAt`: once older than the period, the expiry job removes it
from the log (whole segments, and only once the pipeline committed them) and from the event
store. Profiles, identities and traits are not subject to it, as in Segment.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Protocol

from seamline.errors import InvalidInput
from seamline.store.retention_sql import UNLIMITED, Expired

__all__ = [
    "PERIODS",
    "UNLIMITED",
    "Cutoffs",
    "Expired",
    "InvalidRetention",
    "RetentionStore",
    "parse_retention",
]

PERIODS: dict[str, timedelta | None] = {
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
    "180d": timedelta(days=180),
    "365d": timedelta(days=365),
    "3y": timedelta(days=3 * 365),
    UNLIMITED: None,
}
"""Every setting and how long it keeps a message (None: for ever)."""


class InvalidRetention(InvalidInput):
    """A retention setting that is not one of `PERIODS`."""

    code = "invalid_retention"


def parse_retention(value: str) -> str:
    """`value` as a setting, or InvalidRetention listing the choices."""
    if value not in PERIODS:
        raise InvalidRetention(
            f"retention must be one of {', '.join(PERIODS)}; got {value!r}",
            details={"choices": list(PERIODS)},
        )
    return value


class Cutoffs:
    """Per workspace, the `receivedAt` before which its messages have expired at one instant
    (`now`); workspaces not listed keep everything."""

    def __init__(self, settings: Mapping[str, str], now: datetime) -> None:
        self.now = now
        self.by_workspace: dict[str, datetime] = {}
        for workspace_id, setting in settings.items():
            period = PERIODS[setting]
            if period is not None:
                self.by_workspace[workspace_id] = now - period

    def __bool__(self) -> bool:
        """Whether anything can expire at all (every workspace unlimited: nothing)."""
        return bool(self.by_workspace)

    def expired(self, workspace_id: str, received_at: datetime | None) -> bool:
        """Whether a message of `workspace_id` received at `received_at` is past retention
        (a message without a receivedAt never is: it is kept rather than guessed at)."""
        cutoff = self.by_workspace.get(workspace_id)
        return cutoff is not None and received_at is not None and received_at < cutoff


class RetentionStore(Protocol):
    """Where the settings and the runs are kept (`store/retention_sql.py`)."""

    def setting(self, workspace_id: str) -> str:
        """The workspace's setting (`unlimited` when never set)."""
        ...

    def set(self, workspace_id: str, retention: str) -> None: ...

    def settings(self) -> dict[str, str]:
        """Every workspace's setting that is not `unlimited`."""
        ...

    def record(self, run: Expired) -> None:
        """Remember a run (status shows the last; /metrics sums them)."""
        ...

    def last_run(self) -> Expired | None: ...
