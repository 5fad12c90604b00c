"""The Profile API tests use the in-process app of the collect tests."""

import pytest

from tests.collect.conftest import running  # noqa: F401  (a fixture, re-exported)


@pytest.fixture(autouse=True)
def _both_state_stores(state_url: str) -> str:
    """Every Profile API test runs against SQLite and PostgreSQL."""
    return state_url
