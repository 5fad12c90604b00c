"""Destination function: a custom destination written as Python handlers, run in the sandbox.

The instance names a workspace `function` whose code defines any of
`on_track`, `on_identify`, `on_group`, `on_page`, `on_screen`, `on_alias` (each
`(event, settings)`), `on_batch(events, settings)` and `on_delete(event, settings)`, as
Segment's destination functions do (docs/functions.md). The handlers get the whole event and
the instance's `settings` merged with its sealed `secret_settings`; they reach the tool with
`fetch`, which this module sends through the delivery's HTTP client, so the address guard
applies and the secret settings are hidden in every recorded exchange.

What a handler raises decides delivery, as in Segment: `RetryError` (or a `fetch` that timed out
or could not connect) retries later; `ValidationError`, `InvalidEventPayload` and any other
exception (a bug) make a dead letter; `EventNotSupported`, or no handler for the event's type,
makes a dead letter saying so (delivery has no "skipped" outcome: subscribe only the types the
function handles). A handler over its time limit, or a worker that dies, retries. `on_batch`,
when defined, takes each chunk of up to 100 events and may return one `{"status": …,
"errormessage": …}` per event (2xx delivered, 429/5xx retried, others dead letters); without it
a chunk still goes to the worker in one round trip, each event to its own handler.
"""

from __future__ import annotations

import ast
import hashlib
import json
import threading
from typing import TYPE_CHECKING, Any

from seamline.destinations.definition import Action, Context, Destination, Field, Preset, Setting
from seamline.destinations.errors import (
    CannotDelete,
    DeliveryError,
    PermanentError,
    RetryableError,
)

if TYPE_CHECKING:
    from seamline.privacy.subject import Person
    from seamline.protocols.destination_functions import (
        DestinationFunctionRunner,
        DestinationOutcome,
        Fetch,
    )

MAX_BATCH = 100
_FETCH_TIMEOUT = 10.0  # seconds, at most, per request a function sends
_STATE_KEY = "function_runner"
_starting = threading.Lock()


def _function_settings(settings: Any) -> dict[str, Any]:
    """The function's settings: `settings` merged with `secret_settings`, which arrive as a
    dict, or unsealed as JSON text or as the text of a Python dict (how a sealed object reads
    back)."""
    merged = dict(settings.get("settings") or {})
    merged.update(_secrets(settings.get("secret_settings")))
    return merged


def _secrets(value: Any) -> dict[str, Any]:
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            try:
                value = ast.literal_eval(value)  # literals only: no code runs
            except (ValueError, SyntaxError):
                raise PermanentError("secret_settings must be an object") from None
    if not isinstance(value, dict):
        raise PermanentError("secret_settings must be an object")
    return value


def _secret_values(value: Any) -> list[str]:
    """Every text in a secret setting's value, to hide from recorded exchanges."""
    if isinstance(value, dict):
        return [text for item in value.values() for text in _secret_values(item)]
    if isinstance(value, list):
        return [text for item in value for text in _secret_values(item)]
    return [] if value is None or isinstance(value, bool) else [str(value)]


def _runner(ctx: Context) -> DestinationFunctionRunner:
    """The instance's runner, started on first use and kept in its state until the code or
    the settings change (InvalidInput from loading becomes a PermanentError)."""
    from seamline.errors import InvalidInput
    from seamline.protocols.destination_functions import DestinationFunctionRunner

    code = ctx.settings.get("code")
    name = str(ctx.settings.get("function") or "inline")
    if not isinstance(code, str) or not code.strip():
        raise PermanentError(f"no code for destination function {name!r}: is the function saved?")
    settings = _function_settings(ctx.settings)
    ctx.http.hide(_secret_values(_secrets(ctx.settings.get("secret_settings"))))
    time_limit = float(ctx.settings.get("time_limit") or 5.0)
    text = json.dumps([name, code, settings, time_limit], sort_keys=True, default=str)
    key = hashlib.sha256(text.encode()).hexdigest()
    with _starting:
        kept: DestinationFunctionRunner | None = ctx.state.get(_STATE_KEY)
        if kept is not None and ctx.state.get(_STATE_KEY + "_key") == key:
            return kept
        try:
            runner = DestinationFunctionRunner(name, code, settings, time_limit=time_limit)
        except InvalidInput as error:
            raise PermanentError(error.message, response=error.details.get("traceback")) from None
        if kept is not None:
            kept.close()
        # Delivery closes what its state holds when it stops (`InstanceDelivery.close`).
        ctx.state[_STATE_KEY], ctx.state[_STATE_KEY + "_key"] = runner, key
        return runner


def _fetcher(ctx: Context) -> Fetch:
    def fetch(request: dict[str, Any]) -> dict[str, Any]:
        asked = request.get("timeout")
        # The function may ask for less time than delivery's timeout, or more up to a cap.
        timeout = min(max(float(asked), 0.1), _FETCH_TIMEOUT) if asked else None
        body = request.get("body")
        try:
            response = ctx.http.request(
                str(request["method"]),
                str(request["url"]),
                json=request.get("json"),
                content=body.encode() if isinstance(body, str) else None,
                headers=request.get("headers") or {},
                timeout=timeout,
                check=False,
            )
        except DeliveryError as error:
            return {"error": error.message, "retryable": error.retryable}
        return {
            "status": response.status_code,
            "headers": dict(response.headers),
            "text": response.text,
        }

    return fetch


def _error(outcome: DestinationOutcome, ctx: Context) -> DeliveryError | None:
    """What a handler's outcome means for delivery: None when delivered."""
    if outcome.status == "ok":
        return None
    last = ctx.http.exchanges[-1].request_text() if ctx.http.exchanges else None
    message = outcome.error or outcome.status
    if outcome.status in ("retry", "timeout", "crashed"):
        return RetryableError(f"the function asked to retry: {message}", request=last)
    if outcome.status == "not_supported":
        message = f"not supported by the function: {message}"
    elif outcome.status == "error":
        message = f"the function failed: {message}"
    return PermanentError(message, request=last, response=outcome.traceback)


def _handler(event: dict[str, Any]) -> str:
    kind = event.get("type")
    if kind not in ("track", "identify", "group", "page", "screen", "alias"):
        raise PermanentError(f"a destination function has no handler for type {kind!r}")
    return f"on_{kind}"


def send(ctx: Context, payload: dict[str, Any]) -> None:
    """Call the handler for the event's type."""
    event = payload["event"]
    [outcome] = _runner(ctx).run([(_handler(event), event)], _fetcher(ctx))
    error = _error(outcome, ctx)
    if error is not None:
        raise error


def send_batch(ctx: Context, payloads: list[dict[str, Any]]) -> list[DeliveryError | None]:
    """`on_batch` with the chunk's events when defined, else each event's own handler (one
    round trip to the worker for the chunk); one result per event."""
    runner = _runner(ctx)
    events = [payload["event"] for payload in payloads]
    if "on_batch" not in runner.handlers:
        calls = [(_handler(event), event) for event in events]
        return [_error(outcome, ctx) for outcome in runner.run(calls, _fetcher(ctx))]
    [outcome] = runner.run([("on_batch", events)], _fetcher(ctx))
    error = _error(outcome, ctx)
    if error is not None:
        raise error  # delivery retries the chunk, or sends its events one by one
    return _statuses(outcome.result, len(events))


def _statuses(result: Any, count: int) -> list[DeliveryError | None]:
    """Per-event results from what `on_batch` returned: Segment's `[{"status": 200}, {"status":
    400, "errormessage": …}, …]`, one per event; anything else means every event delivered."""
    if not isinstance(result, list) or len(result) != count:
        return [None] * count
    found: list[DeliveryError | None] = []
    for item in result:
        status = item.get("status") if isinstance(item, dict) else None
        message = str(item.get("errormessage") or f"status {status}") if status else ""
        if not isinstance(status, int) or 200 <= status < 300:
            found.append(None)
        elif status == 429 or status >= 500:
            found.append(RetryableError(f"on_batch: {message}", status=status))
        else:
            found.append(PermanentError(f"on_batch: {message}", status=status))
    return found


def delete(ctx: Context, person: Person) -> None:
    """Call `on_delete` once per user id of the person (per anonymous id when it has none)."""
    runner = _runner(ctx)
    if "on_delete" not in runner.handlers:
        raise CannotDelete("the function defines no on_delete handler")
    identifiers: dict[str, list[str]] = {}
    for identifier in person.identifiers:
        identifiers.setdefault(identifier.type, []).append(identifier.value)
    events: list[dict[str, Any]] = [
        {"type": "delete", "userId": user_id} for user_id in person.user_ids
    ] or [{"type": "delete", "anonymousId": anonymous_id} for anonymous_id in person.anonymous_ids]
    if not events:
        raise CannotDelete("the person has no user or anonymous id to delete")
    for event in events:
        event["identifiers"] = {kind: sorted(values) for kind, values in identifiers.items()}
    for outcome in runner.run([("on_delete", event) for event in events], _fetcher(ctx)):
        error = _error(outcome, ctx)
        if error is not None:
            raise error


_EVERY_TYPE = (
    'type = "track" or type = "identify" or type = "group" or type = "page" or '
    'type = "screen" or type = "alias"'
)

DESTINATION = Destination(
    slug="function",
    name="Destination function",
    description="Send events anywhere with your own Python handlers (on_track, on_identify …), "
    "run in Seamline's sandbox.",
    settings={
        "function": Setting(
            "Function",
            "The name of the workspace function whose code defines the handlers (on_track …).",
            required=True,
        ),
        "settings": Setting(
            "Settings",
            "The function's settings: given to every handler as its `settings` argument.",
            type="object",
        ),
        "secret_settings": Setting(
            "Secret settings",
            "Settings kept sealed (API keys, tokens), merged into `settings`; their values are "
            "hidden in recorded requests.",
            type="object",
            secret=True,
        ),
    },
    actions={
        "send": Action(
            title="Send",
            description="Call the function's handler for the event's type (on_batch for a "
            "batch, when defined).",
            fields={
                "event": Field(
                    "Event",
                    "What the handler receives: the whole event by default.",
                    "object",
                    required=True,
                    default={"@path": "$."},
                ),
            },
            perform=send,
            perform_batch=send_batch,
            max_batch=MAX_BATCH,
            default_trigger=_EVERY_TYPE,
        ),
    },
    delete=delete,
    presets=(Preset("Send every event", "send", _EVERY_TYPE),),
)
