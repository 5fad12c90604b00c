"""Calling LinkedIn's DMP segment API: the token, the versioned Rest.li headers, finding or
creating an audience's segment, and BATCH_CREATE of users with per-element outcomes."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from seamline.destinations.catalog import _oauth
from seamline.destinations.definition import Context
from seamline.destinations.errors import DeliveryError, PermanentError, RetryableError

API_HOST = "https://api.linkedin.com"
TOKEN_URL = "https://www.linkedin.com/oauth/v2/accessToken"
API_VERSION = "202604"
_TOKEN = "linkedin.access_token"  # ctx.state keys
_SEGMENT = "linkedin.segment:"
_PAGE = 100  # segments per page when listing them
_MAX_PAGES = 50


def account_id(ctx: Context) -> str:
    """The ad account's number; PermanentError when the setting is not one."""
    account = str(ctx.settings.get("ad_account_id") or "").strip()
    if not account.isdigit():
        raise PermanentError(
            f"ad_account_id must be a LinkedIn ad account's number, got {account!r}"
        )
    return account


def _account_urn(ctx: Context) -> str:
    return f"urn:li:sponsoredAccount:{account_id(ctx)}"


def _token(ctx: Context) -> str:
    if ctx.settings.get("refresh_token"):
        return _oauth.access_token(
            ctx,
            _TOKEN,
            str(ctx.settings.get("token_url") or TOKEN_URL),
            {
                "client_id": str(ctx.settings.get("client_id") or ""),
                "client_secret": str(ctx.settings.get("client_secret") or ""),
                "refresh_token": str(ctx.settings["refresh_token"]),
            },
        )
    token = ctx.settings.get("access_token")
    if not token:
        raise PermanentError("set an access_token, or a refresh_token with client_id and secret")
    return str(token)


def call(
    ctx: Context,
    method: str,
    path: str,
    *,
    json: Any = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """One request to `{endpoint}/rest{path}` with the token and LinkedIn's headers."""
    host = str(ctx.settings.get("endpoint") or API_HOST).rstrip("/")
    token = _token(ctx)
    sent = {
        "Authorization": f"Bearer {token}",
        "LinkedIn-Version": str(ctx.settings.get("api_version") or API_VERSION),
        "X-Restli-Protocol-Version": "2.0.0",
        **(headers or {}),
    }
    try:
        return ctx.http.request(method, f"{host}/rest{path}", json=json, headers=sent)
    except PermanentError as error:
        if error.status == 401:
            _oauth.forget(ctx, _TOKEN, token)
        raise


def _finder(ctx: Context, **criteria: str) -> str:
    # Rest.li 2.0 wants the URN's colons encoded in a query parameter.
    query = {"q": "account", "account": _account_urn(ctx), **criteria}
    return "/dmpSegments?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in query.items())


def _segment(raw: Any) -> str:
    text = str(raw if raw is not None else "").strip()
    if not text.isdigit():  # it goes into a path
        raise PermanentError(f"LinkedIn named a DMP segment {raw!r}, which is not an id")
    return text


def segment_id(ctx: Context, key: str, name: str) -> str:
    """The DMP segment of the audience `key`, found or created, then remembered."""
    cached = ctx.state.get(_SEGMENT + key)
    if isinstance(cached, str):
        return cached
    platform = str(ctx.settings["source_platform"])
    finder = _finder(ctx, sourceSegmentId=key, sourcePlatform=platform)
    found = call(ctx, "GET", finder).json().get("elements") or []
    if found and found[0].get("id") is not None:
        segment = _segment(found[0]["id"])
    else:
        created = call(
            ctx,
            "POST",
            "/dmpSegments",
            json={
                "name": name,
                "account": _account_urn(ctx),
                "sourcePlatform": platform,
                "sourceSegmentId": key,
                "type": "USER",
                "destinations": [{"destination": "LINKEDIN"}],
            },
        )
        segment = _segment(
            created.headers.get("x-linkedin-id") or created.headers.get("x-restli-id")
        )
    ctx.state[_SEGMENT + key] = segment
    return segment


def our_segments(ctx: Context) -> list[str]:
    """Every DMP segment of the account under this instance's source platform."""
    platform = str(ctx.settings["source_platform"])
    found: list[str] = []
    for page in range(_MAX_PAGES):
        finder = _finder(ctx, sourcePlatform=platform, start=str(page * _PAGE), count=str(_PAGE))
        elements = call(ctx, "GET", finder).json().get("elements") or []
        found += [
            _segment(e["id"])
            for e in elements
            if e.get("id") is not None and e.get("sourcePlatform", platform) == platform
        ]
        if len(elements) < _PAGE:
            break
    return found


def add_or_remove(
    ctx: Context, segment: str, elements: list[dict[str, Any]]
) -> list[DeliveryError | None]:
    """One BATCH_CREATE of users; each element's outcome from the answer's statuses."""
    try:
        response = call(
            ctx,
            "POST",
            f"/dmpSegments/{segment}/users",
            json={"elements": elements},
            headers={"X-RestLi-Method": "BATCH_CREATE"},
        )
    except PermanentError as error:
        if error.status == 404:  # a segment made seconds ago is not ready for users yet
            raise RetryableError(
                "LinkedIn's DMP segment is not ready yet", status=404, request=error.request
            ) from None
        raise
    try:
        statuses = response.json().get("elements")
    except (ValueError, AttributeError):
        statuses = None
    if not isinstance(statuses, list) or len(statuses) != len(elements):
        return [None] * len(elements)
    outcomes: list[DeliveryError | None] = []
    for status in statuses:
        code = status.get("status", 200) if isinstance(status, dict) else 200
        message = f"LinkedIn refused the user: {status}"
        if not isinstance(code, int) or code < 400:
            outcomes.append(None)
        elif code == 429 or code >= 500:
            outcomes.append(RetryableError(message, status=code))
        else:
            outcomes.append(PermanentError(message, status=code))
    return outcomes
