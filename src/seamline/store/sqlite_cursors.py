"""SQLite connections that close the cursors left open when they go back to the pool.

On Python 3.11 and later the pool's rollback no longer resets a SELECT that was neither read to
its end nor closed, and an active statement keeps its connection's WAL read snapshot. Every
later read on that pooled connection, from whichever thread takes it next, then sees the
database as it was, until the garbage collector frees the cursor. An exception raised while a
result was being read keeps the cursor alive through its traceback; in a reference cycle that
can last minutes in a role process (`tune_runtime` collects rarely). A source renamed to a taken
name, answered 409, could so hide the next configuration change from the API that made it.
"""

from __future__ import annotations

import sqlite3
import weakref
from collections.abc import Callable
from typing import Any, TypeVar, overload

from sqlalchemy import Engine, event

_Cursor = TypeVar("_Cursor", bound=sqlite3.Cursor)


class ClosingConnection(sqlite3.Connection):
    """A `sqlite3.Connection` that remembers its cursors so the pool can close them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cursors: weakref.WeakSet[sqlite3.Cursor] = weakref.WeakSet()

    @overload
    def cursor(self, factory: None = None) -> sqlite3.Cursor: ...
    @overload
    def cursor(self, factory: Callable[[sqlite3.Connection], _Cursor]) -> _Cursor: ...
    def cursor(
        self, factory: Callable[[sqlite3.Connection], sqlite3.Cursor] | None = None
    ) -> sqlite3.Cursor:
        # `Connection.execute` comes through here too: it asks `self.cursor()`.
        made = super().cursor() if factory is None else super().cursor(factory)
        self.cursors.add(made)
        return made

    def close_cursors(self) -> None:
        """Close every cursor still open."""
        for cursor in list(self.cursors):
            cursor.close()
        self.cursors.clear()


CONNECT_ARGS: dict[str, Any] = {"factory": ClosingConnection}
"""`create_engine(..., connect_args=CONNECT_ARGS)` for a SQLite URL."""


def close_cursors_at_checkin(engine: Engine) -> None:
    """Close what a caller left open each time a connection of `engine` returns to its pool."""
    event.listen(engine, "checkin", _checkin)


def _checkin(dbapi_connection: Any, _record: object) -> None:
    if isinstance(dbapi_connection, ClosingConnection):
        dbapi_connection.close_cursors()
