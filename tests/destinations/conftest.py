"""An in-process Seamline with fast delivery timings, and a recording sink beside it; for the
destination modules, one sink per module and an `Http` with a short timeout."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from seamline.access.tokens import create_token
from seamline.app import Seamline, bootstrap
from seamline.config import Settings
from seamline.destinations.client import destination_client
from seamline.destinations.http import Http
from tests.destinations.contract import TIMEOUT
from tests.destinations.sink import Sink, sink
from tests.protocols.conftest import Workspace
from tests.state_template import seed_data_dir


@pytest.fixture
def tool() -> Iterator[Sink]:
    with sink() as running:
        yield running


@pytest.fixture(scope="module")
def server() -> Iterator[Sink]:
    """One sink per module, which its `tool` fixture resets (see `contract.reset`): stopping
    one takes half a second (its poll interval)."""
    with sink() as running:
        yield running


LOOPBACK = ["127.0.0.0/8"]
"""The sinks listen on 127.0.0.1: destinations may reach it only when this range is opened,
as `destinations_allow_private` opens it in production."""


@pytest.fixture
def http() -> Iterator[Http]:
    with destination_client(LOOPBACK) as client:
        yield Http(client, timeout=TIMEOUT)


@pytest.fixture
def patient_http() -> Iterator[Http]:
    """For tests of how big batches are split: a body of thousands of rows can outrun the
    short `TIMEOUT` on a busy machine, and these tests are not about timeouts."""
    with destination_client(LOOPBACK) as client:
        yield Http(client, timeout=30.0)


@pytest.fixture
async def workspace(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Workspace]:
    # Tests that ask for `state_url` run on both state stores; the others on SQLite.
    url = request.getfixturevalue("state_url") if "state_url" in request.fixturenames else None
    settings = Settings(
        data_dir=tmp_path / "data",
        delivery_poll=0.05,
        delivery_timeout=0.5,
        database_url=url,
        destinations_allow_private=LOOPBACK,
    )
    if url is None:
        seed_data_dir(settings.data_dir)
    source = bootstrap(settings)
    app = Seamline(settings)
    await app.start()
    _, token = create_token(app.tokens, "default", "tests")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Workspace(app, source, client, token, {})
    if app.accepting:
        await app.stop()
