"""Calling the Google Sheets API v4: the access token, A1 ranges and the four values calls the
destination uses (`values:batchGet`, `values:batchUpdate`, `values:append`, `values:batchClear`).

Tokens come from one of two OAuth 2.0 grants, both at the token URL: a refresh token with its
OAuth client (see `_oauth`), or a service account's JSON key, whose RS256-signed JWT (`iss` the
client_email, `scope` spreadsheets, `aud` the token URL, an hour at most) is exchanged with
`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`. A token is kept in the instance's state
until a minute before it expires; a 401 drops it and the request is sent once more.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any
from urllib.parse import quote

import httpx

from seamline.destinations.catalog import _oauth
from seamline.destinations.definition import Context
from seamline.destinations.errors import PermanentError
from seamline.destinations.signed_jwt import rs256, rsa_key

API_HOST = "https://sheets.googleapis.com"
TOKEN_URL = "https://oauth2.googleapis.com/token"
SCOPE = "https://www.googleapis.com/auth/spreadsheets"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_TOKEN = "google_sheets.access_token"  # ctx.state key
_SPREADSHEET_ID = re.compile(r"[A-Za-z0-9_-]{10,100}")
MAX_SHEET_NAME = 100  # Google's limit on a sheet's (tab's) title


def spreadsheet_id(raw: Any) -> str:
    """The id from a spreadsheet's URL (…/spreadsheets/d/{id}/edit), checked before it goes into a
    path: letters, digits, - and _ only."""
    value = str(raw or "").strip()
    if not _SPREADSHEET_ID.fullmatch(value):
        raise PermanentError(f"spreadsheet_id must be the id in the spreadsheet's URL, got {raw!r}")
    return value


def a1(sheet: str, cells: str) -> str:
    """An A1 range on `sheet`, the title quoted (a ' inside doubled) so any title is safe."""
    if not sheet or len(sheet) > MAX_SHEET_NAME:
        raise PermanentError(f"spreadsheet_name must be 1 to {MAX_SHEET_NAME} characters")
    return "'" + sheet.replace("'", "''") + "'!" + cells


def _service_token(ctx: Context, token_url: str) -> str:
    cached = ctx.state.get(_TOKEN)
    if isinstance(cached, tuple) and len(cached) == 2 and cached[1] > time.monotonic():
        return str(cached[0])
    raw = ctx.settings.get("service_account_key")
    try:
        key = json.loads(raw) if isinstance(raw, str) and len(raw) <= 20_000 else raw
    except ValueError:
        raise PermanentError("service_account_key is not a JSON key file") from None
    if not isinstance(key, dict) or not all(
        isinstance(key.get(k), str) and key[k] for k in ("client_email", "private_key")
    ):
        raise PermanentError("service_account_key needs client_email and private_key")
    issued = int(time.time())
    claims = {
        "iss": key["client_email"],
        "scope": SCOPE,
        "aud": token_url,
        "iat": issued,
        "exp": issued + 3600,
    }
    header = {"kid": str(key["private_key_id"])} if key.get("private_key_id") else {}
    assertion = rs256(claims, rsa_key(key["private_key"]), header)
    # _oauth's refresh-token exchange takes any grant: it caches the token and hides the form.
    return _oauth.access_token(
        ctx, _TOKEN, token_url, {"grant_type": JWT_GRANT, "assertion": assertion}
    )


def access_token(ctx: Context) -> str:
    """A bearer token for the spreadsheets scope, from the service-account key when one is set,
    else from the refresh token; PermanentError when neither is configured."""
    token_url = str(ctx.settings.get("token_url") or TOKEN_URL)
    if ctx.settings.get("service_account_key"):
        return _service_token(ctx, token_url)
    refresh = ctx.settings.get("oauth_refresh_token")
    if not refresh:
        raise PermanentError("set service_account_key, or oauth_refresh_token with its client")
    return _oauth.access_token(
        ctx,
        _TOKEN,
        token_url,
        {
            "client_id": str(ctx.settings.get("oauth_client_id") or ""),
            "client_secret": str(ctx.settings.get("oauth_client_secret") or ""),
            "refresh_token": str(refresh),
        },
    )


def call(
    ctx: Context,
    method: str,
    path: str,
    *,
    json: Any = None,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`method {endpoint}/v4/spreadsheets/{path}` with a bearer token, sent once more with a new
    token after a 401; the answer's JSON object."""
    url = f"{str(ctx.settings.get('endpoint') or API_HOST).rstrip('/')}/v4/spreadsheets/{path}"
    for attempt in (1, 2):
        token = access_token(ctx)
        headers = {"Authorization": f"Bearer {token}"}
        try:
            answer = ctx.http.request(method, url, json=json, params=params, headers=headers)
        except PermanentError as error:
            if error.status == 401 and attempt == 1:
                # An access token revoked or expired early: one more try with a fresh one.
                _oauth.forget(ctx, _TOKEN, token)
                continue
            raise
        return _body(answer)
    raise AssertionError("unreachable: the second attempt returns or raises")


def _body(answer: httpx.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def read_columns(ctx: Context, sheet_id: str, sheet: str) -> tuple[list[str], list[str]]:
    """The sheet's header row and its column A (one entry per row, "" for an empty cell), read
    in one `values:batchGet`."""
    params = {"ranges": [a1(sheet, "1:1"), a1(sheet, "A:A")], "majorDimension": "ROWS"}
    body = call(ctx, "GET", f"{sheet_id}/values:batchGet", params=params)
    ranges = body.get("valueRanges")
    if not isinstance(ranges, list) or len(ranges) != 2:
        raise PermanentError("values:batchGet answered without the two ranges asked for")
    header_rows, id_rows = (r.get("values") or [] if isinstance(r, dict) else [] for r in ranges)
    header = [str(v) for v in header_rows[0]] if header_rows else []
    ids = [str(row[0]) if row else "" for row in id_rows]
    return header, ids


def write(ctx: Context, sheet_id: str, data: list[dict[str, Any]], input_option: str) -> None:
    """Write each `{range, values}` with one `values:batchUpdate`."""
    body = {"valueInputOption": input_option, "data": data}
    call(ctx, "POST", f"{sheet_id}/values:batchUpdate", json=body)


def append(
    ctx: Context, sheet_id: str, sheet: str, rows: list[list[Any]], input_option: str
) -> None:
    """Add `rows` after the sheet's table (`values:append`, new rows inserted)."""
    where = quote(a1(sheet, "A1"), safe="")
    params = {"valueInputOption": input_option, "insertDataOption": "INSERT_ROWS"}
    body = {"majorDimension": "ROWS", "values": rows}
    call(ctx, "POST", f"{sheet_id}/values/{where}:append", json=body, params=params)


def clear(ctx: Context, sheet_id: str, sheet: str, rows: list[int]) -> None:
    """Clear the values (not the formatting) of these whole rows (1-based)."""
    ranges = [a1(sheet, f"{row}:{row}") for row in rows]
    call(ctx, "POST", f"{sheet_id}/values:batchClear", json={"ranges": ranges})
