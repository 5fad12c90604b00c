"""The regulation tests use the in-process app of the collect tests."""

from tests.collect.conftest import running  # noqa: F401  (a fixture, re-exported)
