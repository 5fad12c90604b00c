from tests.destinations.conftest import server, tool, workspace

__all__ = ["server", "tool", "workspace"]
