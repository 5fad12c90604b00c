"""Destination functions: Python handlers (`on_track(event, settings)` …, `on_batch(events,
settings)`, `on_delete(event, settings)`) that deliver events to a tool, in the sandboxed worker.

The function's module is given `fetch` and Segment's error classes (see
`destination_function_api`, which runs in the worker, and docs/functions.md). The sandbox has
no sockets: `fetch` sends its request to this process, which sends it through the `fetch`
callable given to `run` — the destination's HTTP client, with its address guard and secret
redaction (`destinations.catalog.function`) — and writes the answer back.

`DestinationFunctionRunner.run` gives one `DestinationOutcome` per call, whatever the function
does; what each status means for delivery is decided by the destination, not here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Literal

import msgspec

from seamline.errors import InvalidInput
from seamline.protocols.destination_function_api import (
    DEFAULT_MAX_REQUEST_BYTES,
    DEFAULT_MAX_REQUESTS,
    EXTRA_HANDLERS,
    FETCH,
    HANDLERS,
    RAISED,
)
from seamline.protocols.function_worker import WorkerSpec
from seamline.protocols.sandboxed_runner import SandboxedRunner, check_json_settings
from seamline.protocols.worker_process import WorkerProcess

Status = Literal["ok", "retry", "rejected", "not_supported", "error", "timeout", "crashed"]
Fetch = Callable[[dict[str, Any]], dict[str, Any]]
"""Sends one request of the function: `{"url", "method", "headers", "timeout", "json"?,
"body"?}` → `{"status", "headers", "text"}`, or `{"error": why, "retryable": bool}` when it
could not be sent."""

MAX_RESPONSE_BYTES = 1024 * 1024
"""The largest answer (its JSON as passed to the worker) a function is given; past it `fetch`
raises FetchError."""


class DestinationOutcome(msgspec.Struct, frozen=True):
    """What became of one handler call: `ok` with what the handler returned (`result`); `retry`
    (it raised RetryError, or a FetchError that may pass); `rejected` (InvalidEventPayload,
    ValidationError, a FetchError that cannot pass, too many requests); `not_supported`
    (EventNotSupported, or no handler for the event); `error` (any other exception: a bug);
    `timeout`; `crashed` (the worker died). `error` holds `Class: message`, `traceback` the
    function's traceback."""

    status: Status
    result: Any = None
    error: str | None = None
    traceback: str | None = None


class _Raised(msgspec.Struct):
    kind: Literal["retry", "rejected", "not_supported", "error"]
    error: str
    message: str
    traceback: str


class DestinationFunctionRunner(SandboxedRunner[DestinationOutcome]):
    """Runs a destination function's handlers in a sandboxed worker.

    `code` is loaded at construction: InvalidInput if it doesn't compile, fails on import,
    defines no handler, or if the sandbox cannot be set up here; `handlers` then names those it
    defines. `settings` (JSON data, secrets in clear) are given to every call, a fresh copy each
    time. `time_limit` is per call, not counting the time its requests take; a call may send
    `max_requests` requests of up to `max_request_bytes`. Thread-safe.
    """

    _timed = "the handler"

    def __init__(
        self,
        name: str,
        code: str,
        settings: dict[str, Any] | None = None,
        *,
        time_limit: float = 5.0,
        memory_limit_mb: int | None = 512,
        load_time_limit: float = 10.0,
        max_requests: int = DEFAULT_MAX_REQUESTS,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
    ) -> None:
        details = {"function": name}
        check_json_settings(name, settings or {}, details)
        self._encoder = msgspec.json.Encoder()
        self._raised = msgspec.json.Decoder(_Raised)
        self._calls = threading.Lock()
        self._fetch: Fetch | None = None
        self._max_requests, self._max_request_bytes = max_requests, max_request_bytes
        self._sent = 0  # requests of the call now running
        spec = WorkerSpec(
            code,
            f"<destination function {name}>",
            memory_limit_mb,
            entry="on_event",
            settings=settings or {},
            limits={"max_requests": max_requests, "max_request_bytes": max_request_bytes},
        )
        super().__init__(
            spec, name=name, details=details, time_limit=time_limit, load_time_limit=load_time_limit
        )

    @property
    def handlers(self) -> frozenset[str]:
        """The handlers the function defines (`on_track`, …, `on_batch`, `on_delete`)."""
        return frozenset(msgspec.json.decode(self.loaded or "[]", type=list[str]))

    def run(self, calls: list[tuple[str, Any]], fetch: Fetch) -> list[DestinationOutcome]:
        """One outcome per `(handler, argument)` call, in order (a handler the function does not
        define is `not_supported`); the function's requests go through `fetch`. Nothing the
        function does makes this raise: InvalidInput for an unknown handler name or an
        argument that is not JSON data, RuntimeError once the runner is closed."""
        for handler, _ in calls:
            if handler not in _KNOWN:
                raise InvalidInput(f"no destination function handler {handler!r}")
        batch = self._encode(calls)
        with self._calls:
            self._fetch, self._sent = fetch, 0
            try:
                return self._run(batch, len(calls), lambda done: self._encode(calls[done:]))
            finally:
                self._fetch = None

    def _encode(self, calls: list[tuple[str, Any]]) -> bytes:
        try:
            return self._encoder.encode(calls)
        except (TypeError, msgspec.EncodeError) as error:
            raise InvalidInput(f"events must be JSON data: {error}") from error

    def _collect(
        self, frames: list[bytearray], worker: WorkerProcess, outcomes: list[DestinationOutcome]
    ) -> None:
        for frame in frames:
            if frame[:1] == FETCH:
                worker.send(self._answer(frame[1:]))
            else:
                outcomes.append(self._outcome(frame))
                self._sent = 0

    def _answer(self, request: bytearray) -> bytes:
        """The reply to one `fetch`, sent through the `fetch` given to `run`."""
        fetch = self._fetch
        if fetch is None:  # cannot happen: frames are read only within `run`
            return self._encoder.encode({"error": "no request can be sent now"})
        # The worker checks these limits too, but what runs there is the function's: they are
        # kept here, where it cannot reach.
        self._sent += 1
        if self._sent > self._max_requests:
            message = f"a call may send at most {self._max_requests} requests"
            return self._encoder.encode({"error": message, "retryable": False})
        if len(request) > self._max_request_bytes:
            message = f"the request is over {self._max_request_bytes} bytes"
            return self._encoder.encode({"error": message, "retryable": False})
        try:
            reply = self._encoder.encode(fetch(msgspec.json.decode(request)))
        except Exception as error:  # reported to the function, which decides what it means
            return self._encoder.encode({"error": f"{type(error).__name__}: {error}"})
        if len(reply) > MAX_RESPONSE_BYTES:
            message = f"the response is over {MAX_RESPONSE_BYTES} bytes"
            return self._encoder.encode({"error": message, "retryable": False})
        return reply

    def _outcome(self, frame: bytearray) -> DestinationOutcome:
        if frame[:1] == RAISED:
            raised = self._raised.decode(frame[1:])
            error = f"{raised.error}: {raised.message}" if raised.message else raised.error
            return DestinationOutcome(raised.kind, error=error, traceback=raised.traceback or None)
        return DestinationOutcome("ok", result=msgspec.json.decode(frame).get("result"))

    def _failed(self, kind: str, message: str) -> DestinationOutcome:
        if kind == "timeout":
            return DestinationOutcome("timeout", error=message)
        if kind == "crashed":
            return DestinationOutcome("crashed", error=message)
        return DestinationOutcome("error", error=message)


_KNOWN = frozenset((*HANDLERS, *EXTRA_HANDLERS))
