"""Test runs for the console's editors: a function, or a transformation, applied to a sample
event without touching the pipeline (`POST /api/v1/functions/{name}/test`,
`POST /api/v1/transformations/{name}/test`). Nothing is stored."""

from __future__ import annotations

import asyncio
import copy
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse

from seamline.access.permissions import FUNCTIONS_WRITE, TRACKING_PLANS_WRITE, allows
from seamline.api.auth import needs, workspace_of
from seamline.errors import Forbidden, InvalidInput, NotFound
from seamline.protocols.functions import FunctionRunner, Outcome
from seamline.protocols.transforms import Transformation, parse_transformation
from seamline.workspace.kinds import normalise

if TYPE_CHECKING:
    from seamline.api.workspace import WorkspaceAPI


def add_test_runs(routes: APIRouter, api: WorkspaceAPI) -> None:
    """Add the test-run routes to the management API's router."""

    @routes.post(
        "/functions/{name}/test",
        summary="Run a function on a sample event (the saved code, or `code` to try an edit)",
        dependencies=[Depends(needs(FUNCTIONS_WRITE, "name"))],
    )
    async def test_function(
        name: str,
        request: Request,
        body: Annotated[
            dict[str, Any],
            Body(examples=[{"event": {"type": "track", "event": "Order Completed"}}]),
        ],
    ) -> JSONResponse:
        event = body.get("event")
        if not isinstance(event, dict):
            raise InvalidInput("event must be a message (a JSON object)")
        document: Any = {k: v for k, v in body.items() if k in ("code", "time_limit")}
        if "code" not in document:
            stored = await asyncio.to_thread(
                api.resources.get, workspace_of(request), "function", name
            )
            if stored is None:
                raise NotFound(f"no function named {name!r}")
            document = stored.document
        checked = normalise("function", name, document)  # the errors a save would give
        outcome = await asyncio.to_thread(
            _run_once, name, checked["code"], checked["time_limit"], event
        )
        return JSONResponse(msgspec.to_builtins(outcome))

    @routes.post(
        "/transformations/{name}/test",
        summary="Apply a transformation to a sample event (the saved one, or `transformation`)",
        dependencies=[Depends(needs(TRACKING_PLANS_WRITE, "name"))],
    )
    async def test_transformation(
        name: str,
        request: Request,
        body: Annotated[
            dict[str, Any],
            Body(examples=[{"event": {"type": "track", "event": "order_completed"}}]),
        ],
    ) -> JSONResponse:
        event = body.get("event")
        if not isinstance(event, dict):
            raise InvalidInput("event must be a message (a JSON object)")
        document = body.get("transformation")
        workspace_id = workspace_of(request)
        if document is None:
            stored = await asyncio.to_thread(
                api.resources.get, workspace_id, "transformation", name
            )
            if stored is None:
                raise NotFound(f"no transformation named {name!r}")
            document = stored.document
        if not isinstance(document, dict):
            raise InvalidInput("transformation must be a transformation's document")
        # Its scope by type, event and condition is checked; by source it is not (the sample
        # event comes from no source).
        transformation = Transformation(name, parse_transformation(name, document), frozenset())
        if not transformation.applies_to("", event):
            return JSONResponse({"applies": False, "kind": "ok", "event": event, "error": None})
        if transformation.function is None:
            changed = copy.deepcopy(event)
            kept = transformation.apply(changed)
            outcome = Outcome("ok", changed) if kept is not None else Outcome("dropped")
        else:
            if not allows(request.state.principal, FUNCTIONS_WRITE, transformation.function):
                raise Forbidden("running a function needs functions:write")
            code = await asyncio.to_thread(
                api.resources.get, workspace_id, "function", transformation.function
            )
            if code is None:
                raise NotFound(f"no function named {transformation.function!r}")
            checked = normalise("function", transformation.function, code.document)
            outcome = await asyncio.to_thread(
                _run_once, transformation.function, checked["code"], checked["time_limit"], event
            )
        return JSONResponse({"applies": True, **msgspec.to_builtins(outcome)})


def _run_once(name: str, code: str, time_limit: float, event: dict[str, Any]) -> Outcome:
    """`event` through the function's code in a worker of its own, in the same sandbox as the
    pipeline's (a test run never touches the pipeline's workers)."""
    with tempfile.TemporaryDirectory(prefix="seamline-fn-test-") as folder:
        path = Path(folder) / "function.py"
        path.write_text(code, encoding="utf-8")
        with FunctionRunner(path, name=name, time_limit=time_limit) as runner:
            return runner.run([event])[0]
