"""An in-process Seamline (the destinations' fixture) for Profiles Sync's tests."""

from tests.destinations.conftest import workspace

__all__ = ["workspace"]
