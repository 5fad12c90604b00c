"""Snowflake's SQL API v2: statements sent to `POST /api/v2/statements`, run asynchronously
(`async=true` answers 202 with a statement handle at once) and followed with
`GET /api/v2/statements/{handle}` until it answers 200 with the result, so a slow statement
never outlasts an HTTP timeout; one still running after `max_wait` is cancelled
(`POST /api/v2/statements/{handle}/cancel`) and the batch retried. Several statements go in
one request with `MULTI_STATEMENT_COUNT`; a transaction is BEGIN … COMMIT inside it.

Authentication is key-pair (a JWT signed with the user's private key: `iss`
ACCOUNT.USER.SHA256:<public key fingerprint>, `sub` ACCOUNT.USER, an hour at most, header
`X-Snowflake-Authorization-Token-Type: KEYPAIR_JWT`) or an OAuth access token (`OAUTH`).

Snowflake answers 422 for a statement that failed (its `sqlState` and `code` say why): a
missing table or column (42S02, 42S22, codes 002003 "does not exist" and 000904 "invalid
identifier") is retried, as the loader reads the schema again; anything else is permanent.
408 and 429 are retried, as the HTTP client does.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from seamline.destinations.errors import DeliveryError, PermanentError, RetryableError
from seamline.destinations.http import Http
from seamline.destinations.signed_jwt import rs256, rsa_key

STATEMENTS = "/api/v2/statements"
MAX_WAIT = 300.0
"""Seconds a statement may run before the delivery is retried (MERGE makes that harmless)."""
TOKEN_LIFE = 3_540  # Snowflake accepts at most an hour
_RETRIED_STATES = frozenset({"42S02", "42S22"})
_RETRIED_CODES = frozenset({"000904", "002003"})  # invalid identifier; object does not exist


@dataclass
class Credentials:
    """Key-pair (`user` + `private_key`) or OAuth (`oauth_token`) credentials."""

    account: str
    user: str = ""
    private_key: str = field(default="", repr=False)
    passphrase: str = field(default="", repr=False)
    oauth_token: str = field(default="", repr=False)
    _jwt: tuple[str, float] | None = field(default=None, repr=False)

    def headers(self) -> dict[str, str]:
        """The authorization headers of one request."""
        if self.oauth_token:
            token, kind = self.oauth_token, "OAUTH"
        else:
            token, kind = self.jwt(), "KEYPAIR_JWT"
        return {
            "Authorization": f"Bearer {token}",
            "X-Snowflake-Authorization-Token-Type": kind,
            "Accept": "application/json",
            "User-Agent": "seamline",
        }

    def jwt(self, now: float | None = None) -> str:
        """A key-pair JWT, reused until five minutes before it expires."""
        moment = time.time() if now is None else now
        if self._jwt is not None and self._jwt[1] - 300 > moment:
            return self._jwt[0]
        if not self.user or not self.private_key:
            raise PermanentError("Snowflake needs user and private_key, or an oauth_token")
        from cryptography.hazmat.primitives import serialization

        key = rsa_key(self.private_key, self.passphrase or None)
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        fingerprint = base64.b64encode(hashlib.sha256(public).digest()).decode()
        # The account locator without its region or cloud (xy12345.us-east-1 → XY12345).
        qualified = f"{self.account.split('.')[0].upper()}.{self.user.upper()}"
        issued = int(moment)
        claims = {
            "iss": f"{qualified}.SHA256:{fingerprint}",
            "sub": qualified,
            "iat": issued,
            "exp": issued + TOKEN_LIFE,
        }
        token = rs256(claims, key)
        self._jwt = (token, issued + TOKEN_LIFE)
        return token


@dataclass
class SqlApi:
    """Statements run in `database` on `warehouse` (as `role`, when given)."""

    http: Http
    base_url: str
    credentials: Credentials
    database: str
    warehouse: str
    role: str = ""
    max_wait: float = MAX_WAIT
    poll: float = 0.05
    """Seconds between the first status requests, doubled up to a second (the first is sent
    at once: most of the loader's statements take milliseconds)."""

    def run(self, statements: Sequence[str], *, atomic: bool = False) -> None:
        if not statements:
            return
        listed = ["BEGIN", *statements, "COMMIT"] if atomic else list(statements)
        self._execute(listed)

    def query(self, statement: str) -> list[list[Any]]:
        return self._execute([statement])

    def _execute(self, statements: list[str]) -> list[list[Any]]:
        body: dict[str, Any] = {
            "statement": ";\n".join(statements),
            "timeout": int(MAX_WAIT),
            "database": self.database,
            "warehouse": self.warehouse,
        }
        if self.role:
            body["role"] = self.role
        if len(statements) > 1:
            body["parameters"] = {"MULTI_STATEMENT_COUNT": str(len(statements))}
        answer = self._send(
            "POST",
            STATEMENTS,
            json=body,
            params={"async": "true", "requestId": str(uuid.uuid4())},
        )
        result = answer.json()
        waited, pause = 0.0, 0.0
        while answer.status_code == 202:
            if waited > self.max_wait:
                self._give_up(str(result["statementHandle"]))
            time.sleep(pause)
            waited, pause = waited + pause, min(max(pause * 2, self.poll), 1.0)
            answer = self._send("GET", f"{STATEMENTS}/{result['statementHandle']}")
            result = answer.json()
        rows: list[list[Any]] = list(result.get("data") or [])
        partitions = (result.get("resultSetMetaData") or {}).get("partitionInfo") or []
        for partition in range(1, len(partitions)):
            more = self._send(
                "GET",
                f"{STATEMENTS}/{result['statementHandle']}",
                params={"partition": str(partition)},
            )
            rows.extend(more.json().get("data") or [])
        return rows

    def _give_up(self, handle: str) -> None:
        """Cancel a statement that ran too long (so that the retry does not run beside it) and
        raise RetryableError."""
        what = f"Snowflake statement {handle} still running after {self.max_wait:.0f} s"
        try:
            self._send("POST", f"{STATEMENTS}/{handle}/cancel")
        except DeliveryError as error:
            what += f"; cancelling it failed: {error.message}"
        raise RetryableError(what)

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            return self.http.request(
                method, self.base_url + path, headers=self.credentials.headers(), **kwargs
            )
        except PermanentError as error:
            state, code = _sql_state(error.response)
            if error.status == 422 and (state in _RETRIED_STATES or code in _RETRIED_CODES):
                raise RetryableError(error.message, status=422, response=error.response) from None
            raise


def _sql_state(response: str | None) -> tuple[str, str]:
    """The `sqlState` and Snowflake `code` of an error answer."""
    try:
        body = json.loads(response or "")
    except ValueError:
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    return str(body.get("sqlState", "")), str(body.get("code", ""))
