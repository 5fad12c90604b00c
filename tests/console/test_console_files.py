"""The console's files as `seamline serve` answers them: its pages, its assets, nothing else."""

from __future__ import annotations

import gzip
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from seamline.api.console_pages import BUILT, SECTIONS, ConsoleFiles, console_routes

INDEX = b"<!doctype html><title>console</title><script src=/assets/index-abc.js></script>"
SCRIPT = b"console.log('seamline');" * 50


@pytest.fixture
def built(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_bytes(INDEX)
    (tmp_path / "assets" / "index-abc.js").write_bytes(SCRIPT)
    (tmp_path / "assets" / "notes.txt").write_text("not a type the console serves")
    (tmp_path.parent / "secret.txt").write_text("outside the bundle")
    return tmp_path


pytestmark = pytest.mark.anyio


def client(root: Path) -> httpx.AsyncClient:
    app = Starlette(routes=console_routes(ConsoleFiles(root)))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console")


async def test_every_page_path_answers_the_index_with_a_strict_policy(built: Path) -> None:
    http = client(built)
    for path in ["/", *(f"/{s}" for s in SECTIONS), "/profiles/p-1", "/messages/a/b"]:
        answer = await http.get(path)
        assert answer.status_code == 200, path
        assert answer.content == INDEX
        assert answer.headers["cache-control"] == "no-cache"
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert answer.headers["x-content-type-options"] == "nosniff"


async def test_assets_are_served_by_exact_name_gzipped_and_kept(built: Path) -> None:
    http = client(built)
    answer = await http.get("/assets/index-abc.js", headers={"accept-encoding": "gzip"})
    assert answer.status_code == 200
    assert answer.content == SCRIPT  # httpx undoes the gzip
    assert answer.headers["content-encoding"] == "gzip"
    assert "immutable" in answer.headers["cache-control"]
    assert answer.headers["content-type"].startswith("text/javascript")
    plain = await http.get("/assets/index-abc.js", headers={"accept-encoding": "identity"})
    assert plain.content == SCRIPT and "content-encoding" not in plain.headers
    assert len(gzip.compress(SCRIPT)) < len(SCRIPT)


@pytest.mark.parametrize(
    "path",
    [
        "/assets/notes.txt",  # a type the console does not ship
        "/assets/missing.js",
        "/assets/..%2Fsecret.txt",
        "/assets/%2e%2e/secret.txt",
        "/assets/../secret.txt",
        "/secret.txt",
        "/index.html/../../secret.txt",
        "/api/v1/nothing-here",  # an API path never falls through to the console
        "/v1/nothing-here",
    ],
)
async def test_nothing_outside_the_bundle_is_served(built: Path, path: str) -> None:
    answer = await client(built).get(path)
    assert answer.status_code == 404, (path, answer.text[:80])
    assert b"outside the bundle" not in answer.content


async def test_a_missing_build_says_how_to_build_it(tmp_path: Path) -> None:
    answer = await client(tmp_path).get("/")
    assert answer.status_code == 503
    assert "make serve" in answer.text and "console" in answer.text


def test_the_sections_are_the_console_s_own_pages() -> None:
    """Every page path the console's router knows is served (console/src/pages.ts)."""
    pages = (Path(__file__).parents[2] / "console" / "src" / "pages.ts").read_text()
    paths = {
        line.split('path: "')[1].split('"')[0] for line in pages.splitlines() if 'path: "' in line
    }
    sections = {path.split("/")[1] for path in paths if path != "/"}
    assert sections == set(SECTIONS)


def test_the_bundle_is_built_into_the_package() -> None:
    """`make test` builds the console first (the browser tests need it)."""
    assert (BUILT / "index.html").is_file(), "run `make console`"
    assert any((BUILT / "assets").glob("index-*.js"))
