"""Shaping what goes to a tool: request bodies cut to the tool's documented limits (a count
and a size), times as the Unix instants tools ask for, empty values left out, the regional
host a request goes to, and the small declarations (optional fields, default mappings) the
catalog's modules repeat."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

from seamline.destinations.definition import Context, Field, FieldType
from seamline.destinations.errors import InvalidPayload, PermanentError

T = TypeVar("T")


def chunks(items: Sequence[T], count: int, max_bytes: int | None = None) -> Iterator[list[T]]:
    """`items` in order, at most `count` per chunk and, with `max_bytes`, at most that many
    bytes of JSON per chunk (an item bigger than `max_bytes` alone is InvalidPayload: the tool
    would refuse it whatever else the request held)."""
    chunk: list[T] = []
    size = 0
    for item in items:
        length = len(json.dumps(item, default=str)) + 1 if max_bytes else 0
        if max_bytes and length > max_bytes:
            raise InvalidPayload(f"one item is {length} bytes of JSON, over the {max_bytes} limit")
        if chunk and (len(chunk) >= count or (max_bytes and size + length > max_bytes)):
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += length
    if chunk:
        yield chunk


def instant(value: Any, field: str) -> dt.datetime:
    """`value` (a datetime, ISO 8601 text, or Unix seconds/milliseconds) as an aware datetime;
    InvalidPayload naming `field` otherwise. Naive times are taken to be UTC."""
    when: Any = value
    if isinstance(value, bool):
        raise InvalidPayload(f"{field} must be a time, got {value!r}")
    if isinstance(value, int | float):
        # Past 1e11 it cannot be seconds (year 5138): it is milliseconds.
        when = dt.datetime.fromtimestamp(value / 1000 if value > 1e11 else value, dt.UTC)
    elif isinstance(value, str):
        try:
            when = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidPayload(f"{field} is not an ISO 8601 time: {value!r}") from None
    if not isinstance(when, dt.datetime):
        raise InvalidPayload(f"{field} must be a time, got {value!r}")
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def epoch_seconds(value: Any, field: str) -> int:
    """`value` as whole Unix seconds (see `instant`)."""
    return int(instant(value, field).timestamp())


def epoch_millis(value: Any, field: str) -> int:
    """`value` as Unix milliseconds (see `instant`)."""
    return round(instant(value, field).timestamp() * 1000)


def present(values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` without the keys whose value is None, "" or an empty object or list."""
    return {k: v for k, v in values.items() if v is not None and v != "" and v != {} and v != []}


def basic_auth(user: str, password: str) -> str:
    """An `Authorization` header value for HTTP Basic."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def batch_place(index: int, count: int) -> str:
    """How an error names a payload: by its place when it is one of several, else ""."""
    return f" (payload {index} of the batch)" if count > 1 else ""


def regional_url(ctx: Context, regions: Mapping[str, str], tool: str, where: str) -> str:
    """`where` on the `endpoint` setting when one is set, else on the host of the `region`
    setting (US by default); PermanentError naming `tool` for a region it does not have."""
    if ctx.settings.get("endpoint"):
        return str(ctx.settings["endpoint"]).rstrip("/") + where
    region = str(ctx.settings.get("region") or "US").upper()
    if region not in regions:
        raise PermanentError(f"unknown {tool} region {region!r}; one of {', '.join(regions)}")
    return regions[region] + where


_DNS_LABEL = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


def tenant_url(ctx: Context, setting: str, url: str, refusal: str) -> str:
    """The `endpoint` setting when set, else `url` with the account's host label (the
    `setting`, lowercased: yourcompany in yourcompany.tool.com) in place of `{}`;
    PermanentError saying `refusal` when that setting is not one DNS label, so it cannot
    change the host."""
    endpoint = ctx.settings.get("endpoint")
    if endpoint:
        return str(endpoint).rstrip("/")
    label = str(ctx.settings.get(setting) or "").strip().lower()
    if not _DNS_LABEL.fullmatch(label):
        raise PermanentError(refusal)
    return url.format(label)


def optional_field(
    label: str, description: str, default: Any = None, type_: FieldType = "string"
) -> Field:
    """An action field that is not required, with its default mapping."""
    return Field(label, description, type_, default=default)


def path(where: str) -> dict[str, str]:
    """A default mapping: the value at `where` in the event."""
    return {"@path": where}


def first_of(*paths: str) -> dict[str, Any]:
    """A default mapping: the value at the first of `paths` that exists in the event."""
    *rest, last = paths
    mapping: dict[str, Any] = path(last)
    for where in reversed(rest):
        mapping = {"@if": {"exists": path(where), "then": path(where), "else": mapping}}
    return mapping
