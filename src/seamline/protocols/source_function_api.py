"""The worker's side of a source function: what `on_request(request, settings)` sees.

Before the function's code runs, its module is given `Request`'s instance per call and the
helpers `track`, `identify`, `group`, `page`, `screen`, `alias` (keyword arguments in
snake_case, building Spec messages with the Spec's camelCase names) and `set` (Segment's objects
API: `set(collection, id, properties)`; called any other way it is Python's own `set`). What the
helpers emit during one call is that request's outcome; what `on_request` returns is ignored.
The parent (`source_functions.SourceFunctionRunner`) validates the messages.
"""

from __future__ import annotations

import builtins
import json
import types
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import parse_qsl

import msgspec

from seamline.protocols.function_worker import (
    _ERROR,
    WorkerSpec,
    serve_each,
    user_traceback,
)

INVALID = b"i"  # + why, as text: the function emitted too much
DEFAULT_MAX_MESSAGES = 1_000
DEFAULT_MAX_BYTES = 4 * 1024 * 1024  # the outcome's JSON: messages and objects together


class RequestData(msgspec.Struct, frozen=True):
    """One request as the parent sends it."""

    method: str
    url: str
    headers: dict[str, str]
    query: dict[str, Any]
    body: str


class Headers(Mapping[str, str]):
    """A request's headers; names are case-insensitive (`headers["content-type"]` and
    `headers.get("Content-Type")` are the same header) and iterate in lower case."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._headers = {name.lower(): value for name, value in headers.items()}

    def __getitem__(self, name: str) -> str:
        return self._headers[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._headers

    def __iter__(self) -> Iterator[str]:
        return iter(self._headers)

    def __len__(self) -> int:
        return len(self._headers)

    def __repr__(self) -> str:
        return f"Headers({self._headers!r})"


class Request:
    """The HTTP request a source received: `method`, `url`, `headers` (case-insensitive),
    `query` (name → value), `text` (the body); `json()` and `form()` parse the body."""

    __slots__ = ("headers", "method", "query", "text", "url")

    def __init__(self, data: RequestData) -> None:
        self.method = data.method
        self.url = data.url
        self.headers = Headers(data.headers)
        self.query = dict(data.query)
        self.text = data.body

    def json(self) -> Any:
        """The body parsed as JSON; ValueError if it is not JSON."""
        return json.loads(self.text)

    def form(self) -> dict[str, str]:
        """The body parsed as a form (`a=1&b=2`); a repeated name keeps its last value."""
        return dict(parse_qsl(self.text, keep_blank_values=True))

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.url}>"


class _TooMuch(BaseException):
    """Raised by a helper past the message limit; a BaseException so that the function's own
    `except Exception` cannot swallow it."""


class Emitted:
    """What the helpers emitted during the current call."""

    def __init__(self, max_messages: int) -> None:
        self.max_messages = max_messages
        self.messages: list[dict[str, Any]] = []
        self.objects: list[dict[str, Any]] = []

    def add(self, into: list[dict[str, Any]], item: dict[str, Any]) -> None:
        if len(self.messages) + len(self.objects) >= self.max_messages:
            raise _TooMuch(f"a call may emit at most {self.max_messages} messages and objects")
        into.append(item)


def _object(name: str, value: object) -> dict[str, Any] | None:
    if value is not None and not isinstance(value, dict):
        raise TypeError(f"{name} must be a dict, got {type(value).__name__}")
    return value


def _text(name: str, value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"{name} must be a string, got {type(value).__name__}")


def _timestamp(name: str, value: object) -> str | None:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return _text(name, value)


def _viewed(name: object, category: object, properties: object) -> dict[str, Any]:
    """The fields a page and a screen message have alike."""
    return {
        "name": _text("name", name),
        "category": _text("category", category),
        "properties": _object("properties", properties),
    }


def make_helpers(emitted: Emitted) -> dict[str, Any]:
    """The helpers a source function's module is given, emitting into `emitted`."""

    def emit(kind: str, fields: dict[str, Any], common: dict[str, Any]) -> None:
        message: dict[str, Any] = {"type": kind}
        message.update((key, value) for key, value in fields.items() if value is not None)
        message.update(common)
        emitted.add(emitted.messages, message)

    def track(*, event: str, properties: dict[str, Any] | None = None, **common: Any) -> None:
        """Emit a track message: `event` and `properties`."""
        fields = {"event": _text("event", event), "properties": _object("properties", properties)}
        emit("track", fields, _common(common))

    def identify(*, traits: dict[str, Any] | None = None, **common: Any) -> None:
        """Emit an identify message with the person's `traits`."""
        emit("identify", {"traits": _object("traits", traits)}, _common(common))

    def group(*, group_id: str, traits: dict[str, Any] | None = None, **common: Any) -> None:
        """Emit a group message: `group_id` and the group's `traits`."""
        fields = {"groupId": _text("group_id", group_id), "traits": _object("traits", traits)}
        emit("group", fields, _common(common))

    def page(
        *,
        name: str | None = None,
        category: str | None = None,
        properties: dict[str, Any] | None = None,
        **common: Any,
    ) -> None:
        """Emit a page message: `name`, `category` and `properties`."""
        emit("page", _viewed(name, category, properties), _common(common))

    def screen(
        *,
        name: str | None = None,
        category: str | None = None,
        properties: dict[str, Any] | None = None,
        **common: Any,
    ) -> None:
        """Emit a screen message: `name`, `category` and `properties`."""
        emit("screen", _viewed(name, category, properties), _common(common))

    def alias(*, previous_id: str, **common: Any) -> None:
        """Emit an alias message: `previous_id` becomes `user_id`."""
        emit("alias", {"previousId": _text("previous_id", previous_id)}, _common(common))

    def set_object(collection: str, id: str, properties: dict[str, Any]) -> None:
        """Save an object (Segment's objects API): `collection` (lower case), its `id`, and
        its `properties`, merged into what an earlier call saved."""
        if not isinstance(collection, str) or not collection or collection != collection.lower():
            raise ValueError(f"collection must be a lower-case name, got {collection!r}")
        item = {
            "collection": collection,
            "id": _text("id", id),
            "properties": _object("properties", properties) or {},
        }
        if item["id"] is None:
            raise ValueError("an object needs an id")
        emitted.add(emitted.objects, item)

    return {
        "track": track,
        "identify": identify,
        "group": group,
        "page": page,
        "screen": screen,
        "alias": alias,
        "set": _set_type(set_object),
        "Request": Request,
    }


_COMMON: dict[str, tuple[str, Callable[[str, object], Any]]] = {
    "user_id": ("userId", _text),
    "anonymous_id": ("anonymousId", _text),
    "context": ("context", _object),
    "timestamp": ("timestamp", _timestamp),
    "message_id": ("messageId", _text),
    "integrations": ("integrations", _object),
}
"""The keyword arguments every message helper takes: their name on the wire, their check."""


def _common(given: dict[str, Any]) -> dict[str, Any]:
    """The wire fields of the common keyword arguments given (TypeError for an unknown one)."""
    unknown = sorted(set(given) - _COMMON.keys())
    if unknown:
        raise TypeError(
            f"unexpected keyword argument {unknown[0]!r}: the helpers take snake_case names "
            f"({', '.join(_COMMON)} and the message's own)"
        )
    wire: dict[str, Any] = {}
    for name, (key, check) in _COMMON.items():
        value = check(name, given.get(name))
        if value is not None:
            wire[key] = value
    return wire


def _set_type(set_object: Any) -> type:
    """`set` for a source function: `set(collection, id, properties)` (or with those keywords)
    saves an object; `set()` and `set(iterable)`, `isinstance(x, set)` and `set[str]` are still
    Python's own, so code that uses sets keeps working."""

    class _Dispatch(type):
        def __call__(cls, *args: Any, **kwargs: Any) -> Any:
            if kwargs or len(args) > 1:
                return set_object(*args, **kwargs)
            return builtins.set(*args)

        def __instancecheck__(cls, instance: object) -> bool:
            return isinstance(instance, builtins.set)

        def __subclasscheck__(cls, subclass: type) -> bool:
            return issubclass(subclass, builtins.set)

        def __getitem__(cls, item: Any) -> Any:
            return builtins.set[item]

    return _Dispatch("set", (), {"__doc__": _set_type.__doc__})


class SourceKind:
    """`function_worker.EntryKind` for source functions."""

    def __init__(self) -> None:
        self._emitted = Emitted(DEFAULT_MAX_MESSAGES)
        self._settings = b"{}"
        self._max_bytes = DEFAULT_MAX_BYTES

    def helpers(self, spec: WorkerSpec, requests: Connection, fd: int) -> dict[str, Any]:
        self._emitted = Emitted(spec.limits.get("max_messages", DEFAULT_MAX_MESSAGES))
        self._max_bytes = spec.limits.get("max_bytes", DEFAULT_MAX_BYTES)
        # Decoded afresh for each call, so a call that changes its settings changes no other.
        self._settings = msgspec.json.encode(spec.settings)
        return make_helpers(self._emitted)

    def check(self, module: types.ModuleType) -> str | None:
        if callable(getattr(module, "on_request", None)):
            return None
        return f"{module.__file__} does not define an on_request(request, settings) function"

    def loaded(self, module: types.ModuleType) -> bytes:
        return b""

    def serve(self, module: types.ModuleType, requests: Connection, fd: int) -> None:
        decoder = msgspec.json.Decoder(list[RequestData])
        encoder = msgspec.json.Encoder()
        serve_each(requests, fd, decoder.decode, lambda data: self._call(module, data, encoder))

    def _call(
        self, module: types.ModuleType, data: RequestData, encoder: msgspec.json.Encoder
    ) -> bytes:
        """The outcome frame of one request."""
        emitted = self._emitted
        emitted.messages, emitted.objects = [], []
        settings = msgspec.json.decode(self._settings)
        try:
            module.on_request(Request(data), settings)
        except _TooMuch as too_much:
            return INVALID + str(too_much).encode()
        except (Exception, SystemExit) as error:
            return _ERROR + user_traceback(error).encode()
        try:
            frame = encoder.encode({"messages": emitted.messages, "objects": emitted.objects})
        except Exception as error:
            reason = f"the function emitted something that is not JSON data: {error}"
            return INVALID + reason.encode()
        if len(frame) > self._max_bytes:
            return (
                INVALID
                + (
                    f"the function emitted {len(frame)} bytes; the limit is {self._max_bytes}"
                ).encode()
            )
        return frame


SOURCE = SourceKind()
