"""An in-process Seamline (the destinations' fixture) for Profiles Sync's tests, and the
destinations' local sink and HTTP client for the cloud warehouses' fakes."""

from tests.destinations.conftest import patient_http, server, workspace

__all__ = ["patient_http", "server", "workspace"]
