"""Health, readiness, metrics and the browser SDK's settings endpoint."""

from __future__ import annotations

import hmac
from collections.abc import Callable

from fastapi.exceptions import RequestValidationError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from seamline.api.auth import public
from seamline.collect.cdn_settings import browser_settings
from seamline.collect.sources import WriteKeys
from seamline.errors import InvalidInput, SeamlineError, Unauthorized
from seamline.metrics import Metrics

_CORS = {"access-control-allow-origin": "*"}


def routes(
    *,
    write_keys: WriteKeys,
    metrics: Metrics,
    ready: Callable[[], str | None],
    alive: Callable[[], str | None],
    public_url: str | None,
    refresh_metrics: Callable[[], None],
    metrics_token: str | None = None,
) -> list[BaseRoute]:
    """The routes, bound to the parts they read; `/metrics` asks for `metrics_token` as a
    Bearer token when one is set."""

    async def healthz(_: Request) -> Response:
        problem = alive()
        if problem is None:
            return JSONResponse({"status": "ok"})
        return JSONResponse({"code": "unhealthy", "message": problem}, status_code=503)

    async def readyz(_: Request) -> Response:
        problem = ready()
        if problem is None:
            return JSONResponse({"status": "ready"})
        return JSONResponse({"code": "unavailable", "message": problem}, status_code=503)

    async def prometheus(request: Request) -> Response:
        if metrics_token is not None:
            refused = _metrics_refusal(request, metrics_token)
            if refused is not None:
                return refused
        refresh_metrics()
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def sdk_settings(request: Request) -> Response:
        write_key = request.path_params["write_key"]
        if write_keys.resolve(write_key) is None:
            return JSONResponse(
                {"code": "unknown_write_key", "message": "no enabled source has this write key"},
                status_code=404,
                headers=_CORS,
            )
        base = public_url or str(request.base_url)
        return JSONResponse(browser_settings(write_key, base), headers=_CORS)

    async def sdk_metrics(_: Request) -> Response:
        return JSONResponse({"success": True}, headers=_CORS)

    # Public: no access token (/metrics asks for its own token, the SDK routes are what
    # browsers call with a public write key).
    return [
        public(Route("/healthz", healthz)),
        public(Route("/readyz", readyz)),
        public(Route("/metrics", prometheus)),
        public(Route("/v1/projects/{write_key}/settings", sdk_settings)),
        public(Route("/v1/m", sdk_metrics, methods=["POST"])),
    ]


def _metrics_refusal(request: Request, token: str) -> Response | None:
    """401 unless the request carries `token` as a Bearer token (compared in constant time)."""
    header = request.headers.get("authorization", "")
    scheme, _, sent = header.partition(" ")
    sent = sent.strip() if scheme.lower() == "bearer" else ""
    if sent and hmac.compare_digest(sent.encode(), token.encode()):
        return None
    reason = "wrong_token" if sent else "missing_token"
    error = Unauthorized(
        "/metrics needs the metrics_token setting's value as `Authorization: Bearer TOKEN`"
        + ("; the token sent is not it" if sent else ""),
        details={"reason": reason},
    )
    return JSONResponse(
        error.to_json(), status_code=error.status, headers={"www-authenticate": "Bearer"}
    )


async def json_http_error(_: Request, exc: Exception) -> Response:
    """Every error the framework raises is JSON with a stable code, like ours."""
    assert isinstance(exc, HTTPException)
    if isinstance(exc.__cause__, RecursionError):
        # FastAPI answers "There was an error parsing the body" for any parser failure; a
        # body nested past the JSON parser's recursion limit says so with the Tracking API's code.
        return JSONResponse(
            {
                "code": "too_deep",
                "message": "the request body nests objects and arrays too deeply "
                "(the JSON parser stops at about 1,000 levels)",
            },
            status_code=400,
            headers=_CORS,
        )
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return JSONResponse(
        {"code": code, "message": str(exc.detail)}, status_code=exc.status_code, headers=_CORS
    )


async def json_seamline_error(request: Request, exc: Exception) -> Response:
    """Domain errors in their one JSON shape: a stable code, a message, maybe details.

    Profile API clients written for Segment read `error.code` / `error.message`, so those
    answers carry the same two fields nested under `error` as well.
    """
    assert isinstance(exc, SeamlineError)
    body = exc.to_json()
    if request.url.path.startswith("/v1/spaces/"):
        body["error"] = {"code": exc.code, "message": exc.message}
    return JSONResponse(body, status_code=exc.status, headers=_CORS)


async def json_validation_error(request: Request, exc: Exception) -> Response:
    """Bad query or path parameters: 400 with the first problem named."""
    assert isinstance(exc, RequestValidationError)
    problems = exc.errors()
    first = problems[0] if problems else {"loc": (), "msg": "invalid request"}
    where = ".".join(str(part) for part in first.get("loc", ()))
    message = f"{where}: {first.get('msg')}"
    if first.get("type") == "json_invalid":
        context = first.get("ctx")
        reason = context.get("error", "") if isinstance(context, dict) else ""
        position = first["loc"][-1] if first.get("loc") else "?"
        message = f"the request body is not valid JSON ({reason} at character {position})"
    error = InvalidInput(
        message,
        details=[
            {"loc": list(p.get("loc", ())), "msg": p.get("msg"), "type": p.get("type")}
            for p in problems
        ],
    )
    return await json_seamline_error(request, error)
