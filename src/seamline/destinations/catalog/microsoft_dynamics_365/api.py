"""Calling the Dataverse Web API of a Dynamics 365 environment
(`{environment_url}/api/data/v9.2`): the token, the OData headers, rows by alternate key and
lookups by `$filter`.

The token comes from Microsoft Entra ID's client-credentials grant for an application user of
the environment: `POST https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token` with
`grant_type=client_credentials, client_id, client_secret, scope={environment_url}/.default`. It is
kept in the instance's state until a minute before it expires; a 401 drops it and the request is
sent once more.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import httpx

from seamline.destinations.catalog import _oauth
from seamline.destinations.definition import Context
from seamline.destinations.errors import PermanentError

API_PATH = "/api/data/v9.2"
_TOKEN = "dynamics.access_token"  # ctx.state key
_TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,99}")
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,99}")
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
PAGE = 50  # rows a lookup answers at most
MAX_KEY_VALUE = 4_000  # characters: Dataverse's longest text column in a key


def logical_name(raw: Any, what: str) -> str:
    """A column's logical name (lowercase letters, digits, _), checked before it goes into a path
    or a filter."""
    value = str(raw or "")
    if not _NAME.fullmatch(value):
        raise PermanentError(f"{what} must be a column's logical name, got {raw!r}")
    return value


def is_logical_name(value: str) -> bool:
    """Whether `value` can be a column's logical name."""
    return _NAME.fullmatch(value) is not None


def literal(value: Any, what: str) -> str:
    """`value` as an OData literal: a number as it is, text quoted with ' doubled."""
    if isinstance(value, bool) or value is None or value == "":
        raise PermanentError(f"{what} must be text or a number, got {value!r}")
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    if len(text) > MAX_KEY_VALUE:
        raise PermanentError(f"{what} is over {MAX_KEY_VALUE} characters")
    return "'" + text.replace("'", "''") + "'"


def environment(ctx: Context) -> str:
    """The environment's URL, e.g. https://contoso.crm.dynamics.com (or crm4 … crm21 by region)."""
    url = str(ctx.settings.get("environment_url") or "").strip().rstrip("/")
    if not url:
        raise PermanentError("environment_url must be set, like https://contoso.crm.dynamics.com")
    return url


def _token(ctx: Context) -> str:
    tenant = str(ctx.settings.get("tenant_id") or "").strip()
    token_url = str(ctx.settings.get("token_url") or "")
    if not token_url:
        if not _TENANT.fullmatch(tenant):
            raise PermanentError("tenant_id must be your Entra ID tenant's id or domain")
        token_url = f"https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
    form = {
        "grant_type": "client_credentials",  # _oauth's refresh-token form with this grant
        "client_id": str(ctx.settings.get("client_id") or ""),
        "client_secret": str(ctx.settings.get("client_secret") or ""),
        "scope": environment(ctx) + "/.default",
    }
    return _oauth.access_token(ctx, _TOKEN, token_url, form)


def call(
    ctx: Context,
    method: str,
    path: str,
    *,
    json: Any = None,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """`method {environment}/api/data/v9.2/{path}` with a bearer token and the OData headers,
    sent once more with a new token after a 401."""
    url = f"{environment(ctx)}{API_PATH}/{path}"
    for attempt in (1, 2):
        token = _token(ctx)
        sent = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "OData-MaxVersion": "4.0",
            "OData-Version": "4.0",
            **(headers or {}),
        }
        try:
            return ctx.http.request(method, url, json=json, params=params, headers=sent)
        except PermanentError as error:
            if error.status == 401 and attempt == 1:
                # A token revoked or expired early: one more try with a fresh one.
                _oauth.forget(ctx, _TOKEN, token)
                continue
            raise
    raise AssertionError("unreachable: the second attempt returns or raises")


def by_key(entity_set: str, key: str, value: Any) -> str:
    """The path of the row of `entity_set` whose alternate key `key` is `value`."""
    key_path = f"{logical_name(key, 'key_attribute')}={literal(value, 'the key value')}"
    return entity_set + "(" + quote(key_path, safe="=',") + ")"


def find_ids(ctx: Context, entity_set: str, id_column: str, column: str, value: Any) -> list[str]:
    """The ids of the rows of `entity_set` whose `column` equals `value`."""
    params = {
        "$select": id_column,
        "$filter": f"{logical_name(column, 'column')} eq {literal(value, column)}",
        "$top": str(PAGE),
    }
    body = call(ctx, "GET", entity_set, params=params).json()
    rows = body.get("value") if isinstance(body, dict) else None
    found = [row.get(id_column) for row in rows or [] if isinstance(row, dict)]
    # Only a GUID goes back into a path: Dataverse answers nothing else as a row id.
    return [row_id for row_id in found if isinstance(row_id, str) and _GUID.fullmatch(row_id)]
