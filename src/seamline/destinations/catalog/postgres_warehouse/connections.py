"""Connections to the warehouse, reused across batches, and what a failure of one means.

psycopg reports connection failures without a SQLSTATE, so those are told apart by libpq's
message: a refused password or a missing database will not heal by waiting, a refused or
timed-out connection usually will.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from seamline.destinations.errors import (
    DeliveryError,
    InvalidPayload,
    PermanentError,
    RetryableError,
)

Connection = psycopg.Connection[tuple[Any, ...]]

_DEFAULTS = {"connect_timeout": "10", "application_name": "seamline"}  # unless the URL says
_IDLE_KEPT = 4
_SCHEME = re.compile(r"^postgres(?:ql)?(?:\+\w+)?://")

# SQLSTATEs (https://www.postgresql.org/docs/current/errcodes-appendix.html).
_PERMANENT = frozenset({"28000", "28P01", "42501", "3D000", "25006"})
_RETRYABLE_CLASSES = ("08", "40", "53", "57", "58", "XX")
_RETRYABLE = frozenset({"55P03", "55006"})  # lock not available, object in use
_PAYLOAD_CLASSES = ("22", "23")  # data exception, integrity constraint violation
_PERMANENT_AT_CONNECT = (
    "password authentication failed",
    "authentication failed",
    "no pg_hba.conf entry",
    "does not exist",  # role or database
    "permission denied",
    "password is required",
    "no password supplied",
)


def libpq_url(url: str) -> str:
    """`url` as libpq reads it: SQLAlchemy's `postgresql+psycopg://` becomes `postgresql://`."""
    return _SCHEME.sub("postgresql://", url.strip(), count=1)


class Connections:
    """A few open connections to one database, handed out one caller at a time; a connection
    that failed is closed rather than returned."""

    def __init__(self, url: str) -> None:
        self._url = libpq_url(url)
        self._idle: list[Connection] = []
        self._lock = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """An open autocommit connection; failures are raised as Retryable or PermanentError."""
        with self._lock:
            connection = self._idle.pop() if self._idle else None
        try:
            if connection is None or connection.closed:
                connection = self._connect()
            yield connection
        except psycopg.Error as error:
            if connection is not None:
                connection.close()
            raise classify(error) from error
        except BaseException:
            if connection is not None:
                connection.close()
            raise
        with self._lock:
            if len(self._idle) < _IDLE_KEPT:
                self._idle.append(connection)
                return
        connection.close()

    def close(self) -> None:
        """Close the idle connections (ones in use close when their caller is done)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def _connect(self) -> Connection:
        try:
            given = conninfo_to_dict(self._url)
        except psycopg.ProgrammingError as error:
            raise PermanentError(f"invalid database_url: {error}") from None
        defaults = {k: v for k, v in _DEFAULTS.items() if k not in given}
        return psycopg.connect(make_conninfo(self._url, **defaults), autocommit=True)


def classify(error: psycopg.Error) -> DeliveryError:
    """The delivery error `error` amounts to: retry later, or dead-letter now."""
    message = f"PostgreSQL: {str(error).strip()}"
    state = error.sqlstate
    if state is None:
        if isinstance(error, psycopg.OperationalError):
            lowered = message.lower()
            if any(fragment in lowered for fragment in _PERMANENT_AT_CONNECT):
                return PermanentError(message)
            return RetryableError(message)  # refused, timed out, unknown host, connection lost
        return PermanentError(message)  # a malformed URL, a closed connection used
    if state in _PERMANENT:
        return PermanentError(message)
    if state in _RETRYABLE or state.startswith(_RETRYABLE_CLASSES):
        return RetryableError(message)
    if state.startswith(_PAYLOAD_CLASSES):
        return InvalidPayload(message)
    return PermanentError(message)
