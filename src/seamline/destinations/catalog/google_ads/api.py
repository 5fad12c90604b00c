"""Calling the Google Ads API over REST: the URL, the headers, the token, and what its errors
and partial failures mean.

Every request carries `Authorization: Bearer {access token}` (from the OAuth client and
refresh token, see `_oauth`), `developer-token` and, when the account is reached through a
manager account, `login-customer-id`. A 401 drops the token and the request is sent once more
with a new one. Google reports failures as `{"error": {code, message, status, details:
[{"@type": …GoogleAdsFailure, errors: [{errorCode: {…}, message, location}]}]}}`: database
CONCURRENT_MODIFICATION and quota RESOURCE_TEMPORARILY_EXHAUSTED errors are retried like 429
and 5xx; the rest is permanent. With `partialFailure` a 200 answer may carry a
`partialFailureError` of the same shape whose errors name the failed item by its index
(`location.fieldPathElements[0]`), which `item_failures` turns into per-item errors.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from seamline.destinations.catalog import _oauth
from seamline.destinations.definition import Context
from seamline.destinations.errors import DeliveryError, PermanentError, RetryableError

API_HOST = "https://googleads.googleapis.com"
API_VERSION = "v22"
TOKEN_URL = "https://oauth2.googleapis.com/token"
_TOKEN = "google_ads.access_token"  # ctx.state key
_TRANSIENT = frozenset({"CONCURRENT_MODIFICATION", "RESOURCE_TEMPORARILY_EXHAUSTED"})
_DIGITS = re.compile(r"[0-9]{6,12}")


def customer_id(raw: Any, setting: str = "customer_id") -> str:
    """A customer id as the API wants it: digits only (123-456-7890 -> 1234567890)."""
    digits = str(raw or "").replace("-", "").strip()
    if not _DIGITS.fullmatch(digits):
        raise PermanentError(f"{setting} must be a Google Ads customer id, got {raw!r}")
    return digits


def url(ctx: Context, path: str) -> str:
    """`{endpoint}/{version}/{path}`."""
    host = str(ctx.settings.get("endpoint") or API_HOST).rstrip("/")
    version = str(ctx.settings.get("api_version") or API_VERSION).strip("/")
    return f"{host}/{version if version.startswith('v') else 'v' + version}/{path}"


def _token(ctx: Context) -> str:
    return _oauth.access_token(
        ctx,
        _TOKEN,
        str(ctx.settings.get("token_url") or TOKEN_URL),
        {
            "client_id": str(ctx.settings.get("oauth_client_id") or ""),
            "client_secret": str(ctx.settings.get("oauth_client_secret") or ""),
            "refresh_token": str(ctx.settings.get("oauth_refresh_token") or ""),
        },
    )


def _headers(ctx: Context, token: str) -> dict[str, str]:
    headers = {
        "Authorization": f"Bearer {token}",
        "developer-token": str(ctx.settings["developer_token"]),
    }
    if ctx.settings.get("login_customer_id"):
        headers["login-customer-id"] = customer_id(
            ctx.settings["login_customer_id"], "login_customer_id"
        )
    return headers


def _error_codes(detail: Any) -> list[str]:
    """Every error code value (`{"databaseError": "CONCURRENT_MODIFICATION"}` ->
    CONCURRENT_MODIFICATION) in a GoogleAdsFailure-shaped `error` object."""
    codes: list[str] = []
    details = detail.get("details") if isinstance(detail, dict) else None
    for failure in details if isinstance(details, list) else []:
        errors = failure.get("errors") if isinstance(failure, dict) else None
        for item in errors if isinstance(errors, list) else []:
            code = item.get("errorCode") if isinstance(item, dict) else None
            codes += [str(v) for v in code.values()] if isinstance(code, dict) else []
    return codes


def classified(error: PermanentError) -> DeliveryError:
    """A refusal as what it means: Google's transient errors retried, the rest as it was."""
    try:
        detail = json.loads(error.response or "")["error"]
    except (ValueError, KeyError, TypeError):
        return error
    if _TRANSIENT & set(_error_codes(detail)):
        return RetryableError(
            f"Google Ads asks to retry: {detail.get('message')}",
            status=error.status,
            request=error.request,
            response=error.response,
        )
    if isinstance(detail, dict) and detail.get("message"):
        error.message = f"{error.message}: {detail['message']}"
        error.args = (error.message,)
    return error


def call(ctx: Context, path: str, body: Any = None, method: str = "POST") -> httpx.Response:
    """One API request with a valid token (renewed once on a 401); errors classified."""
    token = _token(ctx)
    try:
        try:
            return ctx.http.request(method, url(ctx, path), json=body, headers=_headers(ctx, token))
        except PermanentError as error:
            if error.status != 401:
                raise
        _oauth.forget(ctx, _TOKEN, token)
        token = _token(ctx)
        return ctx.http.request(method, url(ctx, path), json=body, headers=_headers(ctx, token))
    except PermanentError as error:
        raise classified(error) from None


def item_failures(answer: Any, field: str, count: int) -> list[DeliveryError | None]:
    """Per-item outcomes of a partial-failure answer: the items `partialFailureError` names
    (by their index in `field`) get its message, the others None."""
    outcomes: list[DeliveryError | None] = [None] * count
    failure = answer.get("partialFailureError") if isinstance(answer, dict) else None
    if not isinstance(failure, dict):
        return outcomes
    for detail in failure.get("details") or []:
        for item in (detail.get("errors") or []) if isinstance(detail, dict) else []:
            where = (item.get("location") or {}).get("fieldPathElements") or []
            index = next(
                (
                    e.get("index")
                    for e in where
                    if isinstance(e, dict) and e.get("fieldName") == field
                ),
                None,
            )
            if not isinstance(index, int) or not 0 <= index < count:
                continue
            codes = item.get("errorCode") or {}
            text = f"Google Ads refused it: {item.get('message') or codes}"
            transient = (
                _TRANSIENT & {str(v) for v in codes.values()} if isinstance(codes, dict) else set()
            )
            outcomes[index] = (RetryableError if transient else PermanentError)(text)
    return outcomes
