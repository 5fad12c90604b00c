from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.reverse_etl.harness import Harness, harness


@pytest.fixture
def models(engine: Engine, postgres_url: str, tmp_path: Path) -> Iterator[Harness]:
    """A model runner on both state stores, its source database on embedded PostgreSQL."""
    yield from harness(engine, postgres_url, tmp_path)


from tests.destinations.conftest import workspace  # noqa: E402, F401  (the in-process server)
