"""Which of a profile's events to read: the Profile API's `/events` query as SQL conditions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class EventWindow:
    """Events with a timestamp strictly after `start` and before `end`, only the track events
    named in `include` (when it names any), none named in `exclude`; oldest first when
    `ascending`, else newest first."""

    start: datetime | None = None
    end: datetime | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    ascending: bool = False

    def where(
        self, parameters: list[Any], after: tuple[datetime, str] | None
    ) -> tuple[str, list[Any]]:
        """The conditions (each starting with AND) and ORDER BY to append to a query over the
        events, and `parameters` extended with theirs; `after` is the (timestamp, message id)
        the previous page ended at."""
        sql = ""
        if after is not None:
            sql += f" AND (timestamp, message_id) {'>' if self.ascending else '<'} (?, ?)"
            parameters += [after[0], after[1]]
        if self.start is not None:
            sql += " AND timestamp > ?"
            parameters.append(self.start)
        if self.end is not None:
            sql += " AND timestamp < ?"
            parameters.append(self.end)
        if self.include:
            sql += f" AND event IN ({', '.join('?' * len(self.include))})"
            parameters += self.include
        if self.exclude:
            # An event without a name (page, identify …) is never excluded by name.
            sql += f" AND (event IS NULL OR event NOT IN ({', '.join('?' * len(self.exclude))}))"
            parameters += self.exclude
        order = "ASC" if self.ascending else "DESC"
        return f"{sql} ORDER BY timestamp {order}, message_id {order}", parameters
