"""The records of the resource store: one named piece of workspace configuration and its
versions. They live in store/ so the store depends on nothing above it; `workspace.resources`
re-exports them with the store's interface."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec


class Resource(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    name: str
    document: dict[str, Any]
    version: int
    updated_at: datetime


class ResourceVersion(msgspec.Struct, frozen=True, kw_only=True):
    version: int
    document: dict[str, Any] | None  # None: this version deleted the resource
    created_at: datetime
