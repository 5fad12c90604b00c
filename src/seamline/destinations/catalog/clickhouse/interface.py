"""ClickHouse's HTTP interface: a statement is `POST /?query=<SQL>` (an INSERT's rows are the
request body, in the format the statement names, here JSONEachRow), answered 200 with the
result in the requested format (JSONCompact: `{"meta", "data", "rows"}`). `wait_end_of_query=1`
buffers the answer so that an error met late still comes as an error status. Authentication
is HTTP basic (user and password), which ClickHouse Cloud and self-hosted servers accept.

A failure comes as a status with `Code: N. DB::Exception: …` in the body: 5xx is retried, as
are UNKNOWN_TABLE (60), NO_SUCH_COLUMN_IN_TABLE (16), UNKNOWN_IDENTIFIER (47) and
THERE_IS_NO_COLUMN (8), so the loader reads the schema again after a table was dropped by hand;
TOO_MANY_SIMULTANEOUS_QUERIES (202) and TIMEOUT_EXCEEDED (159) are retried too; a refused
password (516) or query (497) is permanent.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Any

from seamline.destinations.errors import PermanentError, RetryableError
from seamline.destinations.http import Http

_CODE = re.compile(r"Code: (\d+)")
_RETRIED = frozenset({8, 16, 47, 60, 159, 202})


@dataclass
class Interface:
    """Statements sent to the server at `url` as `user`."""

    http: Http
    url: str
    user: str
    password: str = field(repr=False)

    def send(self, query: str, body: bytes = b"", **settings: str) -> Any:
        """Run `query` (with `body` as an INSERT's data and ClickHouse `settings` as URL
        parameters); the answer's JSON when the query asked for a JSON format, else None."""
        credentials = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        params = {"query": query, "wait_end_of_query": "1", **settings}
        try:
            answer = self.http.request(
                "POST",
                self.url + "/",
                params=params,
                content=body,
                headers={"Authorization": f"Basic {credentials}"},
            )
        except PermanentError as error:
            found = _CODE.search(error.response or "")
            if found and int(found.group(1)) in _RETRIED:
                raise RetryableError(
                    error.message, status=error.status, response=error.response
                ) from None
            raise
        if not query.endswith((" FORMAT JSON", " FORMAT JSONCompact")):
            return None
        return answer.json()
