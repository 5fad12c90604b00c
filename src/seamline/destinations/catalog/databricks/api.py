"""Databricks' SQL Statement Execution API: `POST /api/2.0/sql/statements` with the statement
and the SQL warehouse's id, `wait_timeout` 0s (the call answers at once with a
`statement_id`), then `GET /api/2.0/sql/statements/{statement_id}` until `status.state` is
SUCCEEDED, FAILED, CANCELED or CLOSED (one still running after `max_wait` is cancelled with
`POST …/{statement_id}/cancel` and the batch retried). Results come inline as JSON arrays, in chunks
(`next_chunk_internal_link`). Authentication is a personal access token (or a service
principal's OAuth token) as a bearer.

The API runs one statement per call and has no transaction across calls, so a deletion's
DELETEs run one after the other; each is idempotent, and a retry finishes the job.

A FAILED statement carries `status.error.message`: a missing table or column
(`TABLE_OR_VIEW_NOT_FOUND`, `UNRESOLVED_COLUMN`, a table dropped by hand) and Delta's
concurrent-write conflicts are retried, as are CANCELED and CLOSED; other failures are
permanent.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from seamline.destinations.errors import DeliveryError, PermanentError, RetryableError
from seamline.destinations.http import Http

STATEMENTS = "/api/2.0/sql/statements"
MAX_WAIT = 300.0
_RETRIED = ("TABLE_OR_VIEW_NOT_FOUND", "UNRESOLVED_COLUMN", "CONCURRENT", "DOES NOT EXIST")
_RUNNING = frozenset({"PENDING", "RUNNING"})


@dataclass
class StatementApi:
    """Statements run on the SQL warehouse `warehouse_id` of the workspace at `host`."""

    http: Http
    host: str
    token: str = field(repr=False)
    warehouse_id: str
    max_wait: float = MAX_WAIT
    poll: float = 0.05
    """Seconds between status requests after the first, doubled up to a second."""

    def run(self, statements: Sequence[str], *, atomic: bool = False) -> None:
        for statement in statements:
            self._execute(statement)

    def query(self, statement: str) -> list[list[Any]]:
        return self._execute(statement)

    def _execute(self, statement: str) -> list[list[Any]]:
        body = {
            "statement": statement,
            "warehouse_id": self.warehouse_id,
            "wait_timeout": "0s",
            "disposition": "INLINE",
            "format": "JSON_ARRAY",
        }
        result = self._send("POST", STATEMENTS, json=body)
        waited, pause = 0.0, 0.0
        while _state(result) in _RUNNING:
            if waited > self.max_wait:
                self._give_up(str(result["statement_id"]))
            time.sleep(pause)
            waited, pause = waited + pause, min(max(pause * 2, self.poll), 1.0)
            result = self._send("GET", f"{STATEMENTS}/{result['statement_id']}")
        state = _state(result)
        if state != "SUCCEEDED":
            error = (result.get("status") or {}).get("error") or {}
            message = f"Databricks statement {state}: {error.get('message') or 'no reason given'}"
            if state in ("CANCELED", "CLOSED") or any(
                marker in message.upper() for marker in _RETRIED
            ):
                raise RetryableError(message)
            raise PermanentError(message)
        chunk = result.get("result") or {}
        rows: list[list[Any]] = list(chunk.get("data_array") or [])
        while chunk.get("next_chunk_internal_link"):
            chunk = self._send("GET", str(chunk["next_chunk_internal_link"]))
            rows.extend(chunk.get("data_array") or [])
        return rows

    def _give_up(self, statement_id: str) -> None:
        """Cancel a statement that ran too long (so that the retry does not run beside it) and
        raise RetryableError."""
        what = f"Databricks statement {statement_id} still running after {self.max_wait:.0f} s"
        try:
            self._send("POST", f"{STATEMENTS}/{statement_id}/cancel")
        except DeliveryError as error:
            what += f"; cancelling it failed: {error.message}"
        raise RetryableError(what)

    def _send(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        answer = self.http.request(
            method,
            self.host + path,
            headers={"Authorization": f"Bearer {self.token}", "User-Agent": "seamline"},
            **kwargs,
        )
        body = answer.json()
        return body if isinstance(body, dict) else {}


def _state(result: dict[str, Any]) -> str:
    return str((result.get("status") or {}).get("state") or "")
