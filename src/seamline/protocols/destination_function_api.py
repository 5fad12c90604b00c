"""The worker's side of a destination function: what `on_track(event, settings)` and the other
handlers see.

Before the function's code runs, its module is given `fetch` (an HTTP request the parent sends
for it, through the destination's client) and the error classes it raises to say what became of
an event: `EventNotSupported`, `InvalidEventPayload`, `ValidationError`, `RetryError` (Segment's
names), plus `FetchError`, which `fetch` raises when a request could not be sent.

Each item of a batch names a handler and its argument; each outcome frame is the handler's
result as JSON (`{` …) or `_RAISED` + JSON naming the error class, its message and traceback.
`fetch` writes `FETCH` + the request as JSON on the outcome pipe and reads the reply from the
request pipe: the worker handles one item at a time, so the reply is the next thing there.
"""

from __future__ import annotations

import json as jsonlib
import threading
import types
from multiprocessing.connection import Connection
from typing import Any

import msgspec

from seamline.protocols.function_worker import (
    WorkerSpec,
    serve_each,
    user_traceback,
    write_frame,
)
from seamline.protocols.source_function_api import Headers

FETCH = b"h"  # + the request as JSON: the parent sends it and replies on the request pipe
RAISED = b"x"  # + {"kind", "error": class name, "message", "traceback"} as JSON
HANDLERS = ("on_track", "on_identify", "on_group", "on_page", "on_screen", "on_alias")
EXTRA_HANDLERS = ("on_batch", "on_delete")
DEFAULT_MAX_REQUESTS = 10  # fetches per handler call
DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024


class EventNotSupported(Exception):
    """This function does not handle this event (or this kind of event): not retried."""


class InvalidEventPayload(Exception):
    """The event lacks what the function needs: a dead letter, not retried."""


class ValidationError(Exception):
    """The event's data is not valid for the tool: a dead letter, not retried."""


class RetryError(Exception):
    """A temporary failure (the tool is down, rate limited): the event is tried again later."""


class FetchError(Exception):
    """`fetch` could not send the request or get an answer: `retryable` says whether trying
    again later may help (a timeout, a refused connection) or not (an address that is not
    allowed, a request or answer over the size limits)."""

    def __init__(self, message: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class _TooMany(BaseException):
    """Past the limit of requests per call; not catchable by the function's `except Exception`."""


class Response:
    """What `fetch` returns: `status`, `headers` (case-insensitive), `text`, `json()`, `ok`
    (a 2xx status). A 4xx or 5xx status is a response like any other, not an exception."""

    __slots__ = ("headers", "status", "text", "url")

    def __init__(self, url: str, status: int, headers: dict[str, str], text: str) -> None:
        self.url = url
        self.status = status
        self.headers = Headers(headers)
        self.text = text

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        """The body parsed as JSON; ValueError if it is not JSON."""
        return jsonlib.loads(self.text)

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.url}>"


class DestinationKind:
    """`function_worker.EntryKind` for destination functions."""

    def __init__(self) -> None:
        self._settings = b"{}"
        self._requests: Connection | None = None
        self._fd = -1
        self._max_requests = DEFAULT_MAX_REQUESTS
        self._max_bytes = DEFAULT_MAX_REQUEST_BYTES
        self._sent = 0
        self._calling: int | None = None

    def helpers(self, spec: WorkerSpec, requests: Connection, fd: int) -> dict[str, Any]:
        self._settings = msgspec.json.encode(spec.settings)
        self._requests, self._fd = requests, fd
        self._max_requests = spec.limits.get("max_requests", DEFAULT_MAX_REQUESTS)
        self._max_bytes = spec.limits.get("max_request_bytes", DEFAULT_MAX_REQUEST_BYTES)
        return {
            "fetch": self.fetch,
            "Response": Response,
            "EventNotSupported": EventNotSupported,
            "InvalidEventPayload": InvalidEventPayload,
            "ValidationError": ValidationError,
            "RetryError": RetryError,
            "FetchError": FetchError,
        }

    def check(self, module: types.ModuleType) -> str | None:
        if _handlers(module):
            return None
        names = ", ".join((*HANDLERS, *EXTRA_HANDLERS))
        return f"{module.__file__} defines no handler: define one or more of {names}"

    def loaded(self, module: types.ModuleType) -> bytes:
        """The handlers the module defines, as a JSON array, for the parent."""
        return msgspec.json.encode(_handlers(module))

    def serve(self, module: types.ModuleType, requests: Connection, fd: int) -> None:
        decoder = msgspec.json.Decoder(list[tuple[str, Any]])
        encoder = msgspec.json.Encoder()
        serve_each(requests, fd, decoder.decode, lambda call: self._call(module, *call, encoder))

    def fetch(
        self,
        url: str,
        *,
        method: str = "GET",
        headers: dict[str, str] | None = None,
        json: Any = None,
        body: str | bytes | None = None,
        timeout: float | None = None,
    ) -> Response:
        """Send an HTTP request through the destination's client (its address guard and
        secret redaction apply) and return the response; FetchError if it could not be sent."""
        if threading.get_ident() != self._calling:
            # Replies come on the pipe the batches come on: only the handler's own thread,
            # during its call, may wait for one.
            raise RuntimeError("fetch can only be called by a handler, in its own thread")
        if json is not None and body is not None:
            raise ValueError("give json or body, not both")
        if self._sent >= self._max_requests:
            raise _TooMany(f"a call may send at most {self._max_requests} requests")
        self._sent += 1
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        request: dict[str, Any] = {
            "url": str(url),
            "method": str(method).upper(),
            "headers": {str(k): str(v) for k, v in (headers or {}).items()},
            "timeout": timeout,
        }
        if json is not None:
            request["json"] = json
        if text is not None:
            request["body"] = text
        frame = FETCH + msgspec.json.encode(request)
        if len(frame) > self._max_bytes:
            raise FetchError(f"the request is over {self._max_bytes} bytes")
        assert self._requests is not None
        write_frame(self._fd, frame)
        reply = msgspec.json.decode(self._requests.recv_bytes())
        if "error" in reply:
            raise FetchError(reply["error"], bool(reply.get("retryable")))
        return Response(request["url"], reply["status"], reply["headers"], reply["text"])

    def _call(
        self,
        module: types.ModuleType,
        handler: str,
        argument: Any,
        encoder: msgspec.json.Encoder,
    ) -> bytes:
        """The outcome frame of one handler call."""
        self._sent = 0
        function = getattr(module, handler, None)
        if not callable(function):
            message = f"the function defines no {handler} handler"
            return _raised("not_supported", "EventNotSupported", message, "", encoder)
        settings = msgspec.json.decode(self._settings)
        self._calling = threading.get_ident()
        try:
            result = function(argument, settings)
        except _TooMany as too_many:
            return _raised("rejected", "TooManyRequests", str(too_many), "", encoder)
        except (Exception, SystemExit) as error:
            name, traceback = type(error).__name__, user_traceback(error)
            return _raised(_kind_of(error), name, str(error), traceback, encoder)
        finally:
            self._calling = None
        try:
            return encoder.encode({"result": result})
        except Exception:  # what a handler returns matters only for on_batch's statuses
            return encoder.encode({"result": None})


def _handlers(module: types.ModuleType) -> list[str]:
    return [name for name in (*HANDLERS, *EXTRA_HANDLERS) if callable(getattr(module, name, None))]


def _kind_of(error: BaseException) -> str:
    """What an exception means for delivery: `retry`, `rejected` (a dead letter: the event is
    wrong for the tool), `not_supported`, or `error` (a bug in the function)."""
    if isinstance(error, RetryError) or (isinstance(error, FetchError) and error.retryable):
        return "retry"
    if isinstance(error, InvalidEventPayload | ValidationError | FetchError):
        return "rejected"
    if isinstance(error, EventNotSupported):
        return "not_supported"
    return "error"


def _raised(
    kind: str, name: str, message: str, traceback: str, encoder: msgspec.json.Encoder
) -> bytes:
    return RAISED + encoder.encode(
        {"kind": kind, "error": name, "message": message, "traceback": traceback}
    )


DESTINATION = DestinationKind()
