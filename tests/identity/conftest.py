"""The state store for identity tests, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from seamline.store.state import open_state_store


@pytest.fixture
def engine(state_url: str) -> Iterator[Engine]:
    engine = open_state_store(state_url)
    yield engine
    engine.dispose()
