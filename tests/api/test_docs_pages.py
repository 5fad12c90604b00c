"""`/docs` (Swagger UI) and `/redoc` work offline: they name no other host, and every script,
stylesheet and icon they load is served by Seamline itself."""

from __future__ import annotations

import re

import pytest

from tests.collect.conftest import Running

pytestmark = pytest.mark.anyio
_LOADED = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")
_SPEC = re.compile(r"""(?:url|spec-url)\s*[:=]\s*["']([^"']+openapi\.json)["']""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_a_docs_page_loads_everything_from_this_server(running: Running, page: str) -> None:
    answer = await running.client.get(page)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    html = answer.text
    assert not re.search(r"https?://|[\"']//", html), "the page names another host"
    loaded = _LOADED.findall(html)
    assert any(url.endswith(".js") for url in loaded), loaded
    for url in loaded:
        assert url.startswith("/"), url
        asset = await running.client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 1000, url
    (spec,) = _SPEC.findall(html)
    document = await running.client.get(spec)
    assert document.status_code == 200
    assert document.json()["info"]["title"] == "Seamline"


async def test_the_swagger_ui_bundle_renders_openapi_3_1(running: Running) -> None:
    """FastAPI writes OpenAPI 3.1, which Swagger UI renders from version 5 on."""
    version = (await running.client.get("/openapi.json")).json()["openapi"]
    assert version.startswith("3.1")
    bundle = (await running.client.get("/docs/assets/swagger-ui-bundle.js")).text
    assert re.search(r'"5\.\d+\.\d+"', bundle)
    assert (await running.client.get("/docs/assets/nothing.js")).status_code == 404
