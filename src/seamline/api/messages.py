"""The message trace over HTTP: `GET /api/v1/messages/{messageId}` answers what happened to
one message at every stage, from the traces the pipeline and the deliver role record
(`pipeline.trace`, `store.traces_sql`), kept `trace_retention_hours`.

Each time the message came through the log is an arrival (the first; a duplicate; a held
message re-run), in log order, with its stages in pipeline order. An arrival that went no
further says why in `stopped`, and the stages after it are absent. Callers without PII access
see the message's and the traits' yellow and red fields masked (`api/pii_view.py`).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import msgspec
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from seamline.access.permissions import PROFILES_READ
from seamline.api.auth import needs, workspace_of
from seamline.api.pii_view import PiiView
from seamline.errors import NotFound
from seamline.pipeline.trace import log_place
from seamline.privacy.masking import Masker
from seamline.store.traces_sql import AttemptRow, SqlTraces, TraceRow

PATH = "/api/v1/messages/{message_id}"

_as_dict = msgspec.json.Decoder(dict[str, Any]).decode


def router(traces: SqlTraces, pii: PiiView, retention_hours: float) -> APIRouter:
    routes = APIRouter(tags=["Message trace"])

    @routes.get(
        PATH,
        summary="What happened to one message at every stage, end to end",
        dependencies=[Depends(needs(PROFILES_READ))],
    )
    async def trace(request: Request, message_id: str) -> JSONResponse:
        workspace_id = workspace_of(request)
        found, attempts = await asyncio.to_thread(traces.find, workspace_id, message_id)
        if not found and not attempts:
            raise NotFound(
                f"no trace of message {message_id!r}: unknown, or older than the trace "
                "retention (trace_retention_hours)",
                # The console tells its user how long traces are kept.
                details={"retentionHours": retention_hours},
            )
        related = await asyncio.to_thread(traces.related, workspace_id, message_id)
        return JSONResponse(answer(message_id, found, attempts, related, pii.masker(request)))

    return routes


def answer(
    message_id: str,
    found: list[TraceRow],
    attempts: list[AttemptRow],
    related: dict[str, Any],
    masker: Masker | None,
) -> dict[str, Any]:
    """The trace's JSON: the message as first accepted, each arrival, the deliveries."""
    message = _as_dict(found[0].body) if found else None
    if message is not None and masker is not None:
        masker.message(message)
    return {
        "messageId": message_id,
        "message": message,
        "arrivals": [_arrival(row, related, masker) for row in found],
        "deliveries": [
            {
                "destination": a.destination,
                "subscription": a.subscription,
                "attempt": a.attempt,
                "outcome": a.outcome,
                "status": a.status,
                "error": a.error,
                "at": _iso(a.traced_at),
            }
            for a in attempts
        ],
        "deadLetters": related["deadLetters"],
    }


def _arrival(row: TraceRow, related: dict[str, Any], masker: Masker | None) -> dict[str, Any]:
    stages = row.stages
    body = _as_dict(row.body)
    accepted = stages.get("accepted", {})
    source_id = accepted.get("sourceId")
    out: dict[str, Any] = {
        "accepted": {
            "source": {"id": source_id, "name": related["sources"].get(source_id)},
            "receivedAt": body.get("receivedAt"),
            "sentAt": body.get("sentAt"),
            "originalTimestamp": body.get("originalTimestamp"),
            "timestamp": body.get("timestamp"),
            "skewCorrectionMs": _skew(body),
            **log_place(row.position),
            **({"rerunOf": accepted["rerunOf"]} if "rerunOf" in accepted else {}),
        },
        "dedup": stages.get("dedup", {"firstSeen": True}),
    }
    stopped = stages.get("stopped")
    if stopped is not None and "dedup" in stages:
        return out | {"stopped": stopped}  # a duplicate: nothing after dedup happened
    # Stages that noted nothing did nothing to the message: an empty list.
    out.update(
        transformations=stages.get("transformations", []),
        violations=stages.get("violations", []),
        held=stages.get("held"),
    )
    if stopped is not None:
        # Held by protocols (or a stage that raised): the later stages are absent; held by a
        # PII control, the controls it applied are shown.
        if "pii" in stages:
            out["pii"] = stages["pii"]
        return out | {"stopped": stopped}
    out["pii"] = stages.get("pii", [])
    traits = {t["name"]: t["value"] for t in stages.get("traits", [])}
    if masker is not None and traits:
        masker.traits(traits)
    out.update(
        profile={"profileId": row.profile_id, "merges": related["merges"]},
        traits=[{"name": name, "value": value} for name, value in traits.items()],
        audiences=stages.get("audiences", []),
        computedTraits=stages.get("computedTraits", []),
        subscriptions=stages.get("subscriptions", []),
        destinationPii=stages.get("destinationPii", []),
        stopped=None,
    )
    return out


def _skew(body: dict[str, Any]) -> float | None:
    """How far the collector moved `timestamp` from the device's `originalTimestamp` to
    correct the device clock (receivedAt - sentAt), in milliseconds; None if not corrected."""
    original, timestamp = _time(body.get("originalTimestamp")), _time(body.get("timestamp"))
    if original is None or timestamp is None:
        return None
    return round((timestamp - original).total_seconds() * 1000, 3)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()
