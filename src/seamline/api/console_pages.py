"""The console (console/, built into `seamline/console_static/`), served at `/` by every collect
worker, from the same origin as the API.

Only the console's own paths are routes: `/`, `/assets/<file>` and one prefix per page (`/sources`,
`/profiles/<id>`, …), each answered with the same `index.html` so a reloaded or shared link
opens its page. Nothing else falls through to the console: an unknown `/api/...` path still
answers JSON 404. An asset is looked up by its exact name in the directory as built, never by
joining a path, so no request can read another file.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from seamline.api.auth import public

BUILT = Path(__file__).resolve().parent.parent / "console_static"

SECTIONS = (
    "sources",
    "debugger",
    "messages",
    "protocols",
    "privacy",
    "profiles",
    "identity",
    "engage",
    "destinations",
    "settings",
)
"""The console's page paths under `/` (console/src/pages.ts)."""

# The bundle loads nothing from another host; inline styles are CodeMirror's and the charts'.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}
TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".woff2": "font/woff2",
    ".json": "application/json",
}

NOT_BUILT = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Seamline</title>
</head><body><main><h1>The console is not built</h1>
<p>The API works; the web console's files are missing from this installation. In a checkout,
<code>make serve</code> builds them (or <code>make console</code>). See docs/console.md.</p>
</main></body></html>"""


@dataclass
class ConsoleFiles:
    """The built files, read once: they change only with a new build, which a restart serves."""

    root: Path = BUILT
    _index: bytes | None = None
    _assets: dict[str, tuple[bytes, bytes, str]] = field(default_factory=dict)
    """name → (bytes, gzipped bytes, content type)."""

    def __post_init__(self) -> None:
        index = self.root / "index.html"
        if not index.is_file():
            return
        self._index = index.read_bytes()
        assets = self.root / "assets"
        for path in sorted(assets.iterdir()) if assets.is_dir() else []:
            kind = TYPES.get(path.suffix)
            if kind is not None and path.is_file():
                body = path.read_bytes()
                self._assets[path.name] = (body, gzip.compress(body, 6, mtime=0), kind)

    @property
    def built(self) -> bool:
        return self._index is not None

    async def page(self, _request: Request) -> Response:
        if self._index is None:
            return HTMLResponse(NOT_BUILT, status_code=503, headers=HEADERS)
        headers = {**HEADERS, "cache-control": "no-cache"}
        return HTMLResponse(self._index, headers=headers)

    async def asset(self, request: Request) -> Response:
        found = self._assets.get(request.path_params["name"])
        if found is None:
            return Response(status_code=404)
        body, zipped, kind = found
        # Names carry a hash of their content (Vite), so a browser may keep them for good.
        headers = {**HEADERS, "cache-control": "public, max-age=31536000, immutable"}
        headers["vary"] = "accept-encoding"
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["content-encoding"] = "gzip"
            return Response(zipped, media_type=kind, headers=headers)
        return Response(body, media_type=kind, headers=headers)


def console_routes(files: ConsoleFiles | None = None) -> list[BaseRoute]:
    """`/`, `/assets/{name}` and every page path, all public: the page signs in through the API."""
    files = files or ConsoleFiles()
    routes: list[BaseRoute] = [
        public(Route("/", files.page, methods=["GET", "HEAD"], include_in_schema=False)),
        public(
            Route("/assets/{name}", files.asset, methods=["GET", "HEAD"], include_in_schema=False)
        ),
    ]
    for section in SECTIONS:
        for path in (f"/{section}", f"/{section}/{{rest:path}}"):
            routes.append(
                public(Route(path, files.page, methods=["GET", "HEAD"], include_in_schema=False))
            )
    return routes
