"""A resource is one named piece of workspace configuration, stored as a JSON document.

Every kind is kept the same way (one table, a version per change, a workspace-wide revision
that the pipeline polls to know when to reload), so the REST API, `seamline apply` and the
pipeline share one mechanism. What a document of each kind may hold is checked by
`workspace.kinds` before anything is stored.
"""

from __future__ import annotations

import builtins
from typing import Any, Protocol

from seamline.store.resource_types import Resource, ResourceVersion

__all__ = ["Resource", "ResourceStore", "ResourceVersion"]


class ResourceStore(Protocol):
    def put(self, workspace_id: str, kind: str, name: str, document: dict[str, Any]) -> Resource:
        """Store `document` as the resource's new version; an identical document is a no-op."""
        ...

    def get(self, workspace_id: str, kind: str, name: str) -> Resource | None: ...

    def list(self, workspace_id: str, kind: str | None = None) -> list[Resource]: ...

    def delete(self, workspace_id: str, kind: str, name: str) -> bool: ...

    def versions(
        self, workspace_id: str, kind: str, name: str
    ) -> builtins.list[ResourceVersion]: ...

    def revision(self, workspace_id: str) -> int:
        """A number that grows with every change to the workspace's resources."""
        ...
