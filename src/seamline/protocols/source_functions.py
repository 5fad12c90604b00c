"""Source functions: `on_request(request, settings)` turning a webhook's request into messages.

A source function is Python code that defines::

    def on_request(request, settings): ...

and calls the helpers its module is given (`track`, `identify`, `group`, `page`, `screen`,
`alias` with snake_case keyword arguments; `set(collection, id, properties)` for objects) — see
`source_function_api`, which runs in the worker, and docs/functions.md. It runs in the same
sandboxed worker as a transformation (`functions`): no sockets, no files, no environment, a time
limit per request and a memory limit.

`SourceFunctionRunner.run` gives one `SourceOutcome` per request, whatever the function does:
`ok` with the messages (Spec messages as JSON, camelCase, as the Tracking API takes them) and
objects it emitted; `error` with the function's traceback; `timeout`; `crashed` (the worker
died: out of memory, a signal); `invalid` when it emitted more than `max_messages`, more than
`max_bytes` of JSON, something that is not JSON, or a message the Tracking API would refuse (the
reason names the message and why).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

from seamline.errors import InvalidInput, SeamlineError
from seamline.protocols.function_worker import _OK_TAG, WorkerSpec
from seamline.protocols.sandboxed_runner import SandboxedRunner, check_json_settings
from seamline.protocols.source_function_api import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_MESSAGES,
    INVALID,
    RequestData,
)
from seamline.spec.limits import Limits
from seamline.spec.parse import parse_request

Status = Literal["ok", "error", "timeout", "crashed", "invalid"]
MAX_BODY_BYTES = 2 * 1024 * 1024
"""The largest request body a runner takes (InvalidInput past it): the caller bounds bodies
first, at whatever its endpoint documents."""


class SourceOutcome(msgspec.Struct, frozen=True):
    """What became of one request: its `status`, the `messages` and `objects` it emitted (both
    empty unless `ok`), and for anything but `ok` the `error`: the function's traceback, or why
    it timed out, crashed or was invalid."""

    status: Status
    messages: list[dict[str, Any]] = []
    objects: list[dict[str, Any]] = []
    error: str | None = None


class _Emitted(msgspec.Struct):
    messages: list[dict[str, Any]]
    objects: list[dict[str, Any]]


class SourceFunctionRunner(SandboxedRunner[SourceOutcome]):
    """Runs a source function's `on_request(request, settings)` in a sandboxed worker.

    `code` is loaded at construction (InvalidInput if it doesn't compile, fails on import or
    defines no `on_request`, or if the sandbox cannot be set up here). `settings` (JSON data;
    secrets in clear) are given to every call, a fresh copy each time. `time_limit` is per
    request. Thread-safe; `close` (or the context manager) stops the worker.
    """

    def __init__(
        self,
        name: str,
        code: str,
        settings: dict[str, Any] | None = None,
        *,
        time_limit: float = 5.0,
        memory_limit_mb: int | None = 512,
        load_time_limit: float = 10.0,
        max_messages: int = DEFAULT_MAX_MESSAGES,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        details = {"function": name}
        if not isinstance(settings or {}, dict):
            raise InvalidInput(f"function {name!r}: settings must be an object", details=details)
        if max_messages <= 0 or max_bytes <= 0:
            raise InvalidInput(f"function {name!r}: limits must be positive", details=details)
        check_json_settings(name, settings or {}, details)
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder(_Emitted)
        self._message_limits = Limits()
        self._max_messages, self._max_bytes = max_messages, max_bytes
        spec = WorkerSpec(
            code,
            f"<source function {name}>",
            memory_limit_mb,
            entry="on_request",
            settings=settings or {},
            limits={"max_messages": max_messages, "max_bytes": max_bytes},
        )
        super().__init__(
            spec, name=name, details=details, time_limit=time_limit, load_time_limit=load_time_limit
        )

    def run(self, requests: list[dict[str, Any]]) -> list[SourceOutcome]:
        """One outcome per request, in order; nothing the function does makes this raise.
        Each request is `{"method", "url", "headers": {name: value}, "query": {name: value},
        "body": text}`: InvalidInput if one is not, or its body is over MAX_BODY_BYTES;
        RuntimeError once the runner is closed."""
        converted = [self._request(request) for request in requests]
        return self._run(
            self._encoder.encode(converted),
            len(converted),
            lambda done: self._encoder.encode(converted[done:]),
        )

    def _request(self, request: Any) -> RequestData:
        try:
            data = msgspec.convert(request, RequestData)
        except msgspec.ValidationError as error:
            raise InvalidInput(f"a source function's request: {error}") from None
        if len(data.body) > MAX_BODY_BYTES:
            raise InvalidInput(f"a source function's request body is over {MAX_BODY_BYTES} bytes")
        return data

    def _outcome(self, frame: bytearray) -> SourceOutcome:
        tag = frame[0]
        if tag == _OK_TAG:
            # The worker keeps these limits too, but with the function's code beside it.
            if len(frame) > self._max_bytes:
                message = f"the function emitted {len(frame)} bytes; the limit is {self._max_bytes}"
                return SourceOutcome("invalid", error=message)
            emitted = self._decoder.decode(frame)
            count = len(emitted.messages) + len(emitted.objects)
            if count > self._max_messages:
                message = (
                    f"the function emitted {count} messages and objects; "
                    f"a call may emit at most {self._max_messages}"
                )
                return SourceOutcome("invalid", error=message)
            problem = self._check(emitted.messages)
            if problem is not None:
                return SourceOutcome("invalid", error=problem)
            return SourceOutcome("ok", emitted.messages, emitted.objects)
        reason = frame[1:].decode("utf-8", "replace")
        return SourceOutcome("invalid" if frame[:1] == INVALID else "error", error=reason)

    def _check(self, messages: list[dict[str, Any]]) -> str | None:
        """Why one of the messages would be refused by the Tracking API, or None."""
        now = datetime.now(UTC)
        for index, message in enumerate(messages):
            kind = message.get("type")
            try:
                parsed = parse_request(
                    self._encoder.encode(message),
                    message_type=str(kind),
                    received_at=now,
                    client_ip=None,
                    limits=self._message_limits,
                )
            except SeamlineError as error:  # TooLarge: over the whole request's limit
                return f"message {index} ({kind}) is invalid: {error}"
            if parsed.rejected:
                rejection = parsed.rejected[0]
                return f"message {index} ({kind}) is invalid: {rejection.code}: {rejection.message}"
        return None

    def _failed(self, kind: str, message: str) -> SourceOutcome:
        if kind == "timeout":
            return SourceOutcome("timeout", error=message)
        if kind == "crashed":
            return SourceOutcome("crashed", error=message)
        return SourceOutcome("error", error=message)
