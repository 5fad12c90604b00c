"""The interactive API docs (`/docs`, Swagger UI; `/redoc`, ReDoc), served with no request to
another host: FastAPI's own pages load their JavaScript and CSS from a CDN, which a server
without internet access (or a browser that blocks third-party scripts) cannot reach.

The assets come from the `fastapi-offline` package (MIT; Swagger UI 5, which renders the
OpenAPI 3.1 document FastAPI writes, and ReDoc's standalone bundle); only its static files are
used, served under `/docs/assets/`.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from seamline.api.auth import public

ASSETS = "/docs/assets"


def docs_routes(openapi_url: str, title: str) -> list[BaseRoute]:
    """`/docs`, `/redoc` and the assets they load, all from this server."""
    directory = Path(str(files("fastapi_offline") / "static"))

    async def swagger(request: Request) -> Response:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{title} API",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
            # No badge that asks an online validator about our document.
            swagger_ui_parameters={"validatorUrl": None},
        )

    async def redoc(request: Request) -> Response:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{title} API",
            redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS}/favicon.png",
            with_google_fonts=False,
        )

    return [
        public(Route("/docs", swagger, include_in_schema=False)),
        public(Route("/redoc", redoc, include_in_schema=False)),
        public(Mount(ASSETS, StaticFiles(directory=directory), name="docs-assets")),
    ]
