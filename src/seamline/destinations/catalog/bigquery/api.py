"""BigQuery's REST API v2, for SQL: `jobs.query` (`POST /bigquery/v2/projects/{project}/queries`)
runs a statement or a multi-statement script and answers at once when it finishes within
`timeoutMs`; otherwise `jobComplete` is false and `jobs.getQueryResults`
(`GET …/queries/{jobId}`) is asked until it is true (a job still running after `max_wait` is
cancelled with `jobs.cancel` and the batch retried). Rows come as `{"f": [{"v": …}]}`, in
pages (`pageToken`). A `requestId` makes a resent `jobs.query` the same job.

OAuth 2.0 for a service account: a JWT signed with the key's private key (`iss` the
client_email, `scope` bigquery, `aud` the token URL, an hour at most) is exchanged at the token
URL (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`) for an access token, kept until
five minutes before it expires.

Errors are `{"error": {"code", "message", "errors": [{"reason"}]}}`: `notFound` (a table
dropped by hand) and the 403 reasons `rateLimitExceeded`, `quotaExceeded` and
`jobRateLimitExceeded` are retried; `invalidQuery`, `accessDenied` and the like are permanent.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from seamline.destinations.errors import DeliveryError, PermanentError, RetryableError
from seamline.destinations.http import Http
from seamline.destinations.signed_jwt import rs256, rsa_key

SCOPE = "https://www.googleapis.com/auth/bigquery"
GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MAX_WAIT = 300.0
WAIT_MS = 2_000
"""How long BigQuery holds each request for the job to finish: well under an HTTP timeout."""
_RETRIED = frozenset({"notFound", "rateLimitExceeded", "quotaExceeded", "jobRateLimitExceeded"})


@dataclass
class ServiceAccount:
    """The fields of a service account's JSON key that sign a token request."""

    client_email: str
    private_key: str = field(repr=False)
    private_key_id: str
    token_url: str
    _token: tuple[str, float] | None = field(default=None, repr=False)

    def forget(self) -> None:
        """Fetch a new token for the next request."""
        self._token = None

    def access_token(self, http: Http) -> str:
        """A bearer token for BigQuery, fetched when the last one is near its end."""
        now = time.time()
        if self._token is not None and self._token[1] - 300 > now:
            return self._token[0]
        issued = int(now)
        claims = {
            "iss": self.client_email,
            "scope": SCOPE,
            "aud": self.token_url,
            "iat": issued,
            "exp": issued + 3600,
        }
        header = {"kid": self.private_key_id} if self.private_key_id else {}
        assertion = rs256(claims, rsa_key(self.private_key), header)
        answer = http.post(self.token_url, data={"grant_type": GRANT, "assertion": assertion})
        body = answer.json()
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise PermanentError("the token URL answered without an access_token")
        self._token = (token, now + float(body.get("expires_in") or 3600))
        return token


@dataclass
class JobsApi:
    """Statements run as query jobs in `project`, in `location`."""

    http: Http
    base_url: str
    account: ServiceAccount
    project: str
    location: str
    max_wait: float = MAX_WAIT

    def run(self, statements: Sequence[str], *, atomic: bool = False) -> None:
        if atomic and len(statements) > 1:
            self._query(";\n".join(["BEGIN TRANSACTION", *statements, "COMMIT TRANSACTION"]))
            return
        for statement in statements:
            self._query(statement)

    def query(self, statement: str) -> list[list[Any]]:
        return self._query(statement)

    def _query(self, statement: str) -> list[list[Any]]:
        jobs = f"{self.base_url}/bigquery/v2/projects/{self.project}/queries"
        body = {
            "query": statement,
            "useLegacySql": False,
            "location": self.location,
            "timeoutMs": WAIT_MS,
            "requestId": str(uuid.uuid4()),
        }
        result = self._send("POST", jobs, json=body)
        waited = 0.0
        while not result.get("jobComplete") or result.get("pageToken"):
            job = result["jobReference"]["jobId"]
            if waited > self.max_wait:
                self._give_up(str(job))
            params: dict[str, Any] = {"location": self.location, "timeoutMs": str(WAIT_MS)}
            if result.get("jobComplete"):
                params["pageToken"] = result["pageToken"]
            started = time.monotonic()
            page = self._send("GET", f"{jobs}/{job}", params=params)
            waited += time.monotonic() - started
            if result.get("jobComplete"):
                page["rows"] = [*result.get("rows", []), *page.get("rows", [])]
            result = page
        return [[cell.get("v") for cell in row.get("f", [])] for row in result.get("rows", [])]

    def _give_up(self, job: str) -> None:
        """Cancel a job that ran too long (jobs.cancel, so that the retry does not run beside
        it) and raise RetryableError."""
        what = f"BigQuery job {job} still running after {self.max_wait:.0f} s"
        cancel = f"{self.base_url}/bigquery/v2/projects/{self.project}/jobs/{job}/cancel"
        try:
            self._send("POST", cancel, params={"location": self.location})
        except DeliveryError as error:
            what += f"; cancelling it failed: {error.message}"
        raise RetryableError(what)

    def _send(self, method: str, url: str, *, again: bool = True, **kwargs: Any) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.account.access_token(self.http)}"}
        try:
            answer = self.http.request(method, url, headers=headers, **kwargs)
        except PermanentError as error:
            if _reason(error.response) in _RETRIED:
                raise RetryableError(
                    error.message, status=error.status, response=error.response
                ) from None
            if error.status == 401 and again:
                # A token revoked or expired early: one more try with a fresh one.
                self.account.forget()
                return self._send(method, url, again=False, **kwargs)
            raise
        body = answer.json()
        return body if isinstance(body, dict) else {}


def _reason(response: str | None) -> str:
    try:
        body = json.loads(response or "")
        return str(body["error"]["errors"][0]["reason"])
    except (ValueError, KeyError, IndexError, TypeError):
        return ""


def service_account(key: object, token_url: str | None) -> ServiceAccount:
    """The service account of a JSON key (the key file's text, or the object it holds);
    PermanentError when fields are missing."""
    if isinstance(key, str):
        if len(key) > 20_000:
            raise PermanentError("service_account_key is too long for a key file")
        try:
            key = json.loads(key)
        except ValueError:
            raise PermanentError("service_account_key is not JSON") from None
    if not isinstance(key, dict) or not all(
        isinstance(key.get(k), str) and key.get(k) for k in ("client_email", "private_key")
    ):
        raise PermanentError("service_account_key needs client_email and private_key")
    return ServiceAccount(
        client_email=key["client_email"],
        private_key=key["private_key"],
        private_key_id=str(key.get("private_key_id") or ""),
        token_url=str(token_url or key.get("token_uri") or "https://oauth2.googleapis.com/token"),
    )
