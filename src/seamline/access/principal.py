"""Who is acting: a token or a signed-in user, with the roles granted to them.

Role slugs follow Segment's access-management role names. Roles are additive; a grant may be
scoped to listed resources (source names, space names …), or to the whole workspace (None).
"""

from __future__ import annotations

from typing import Literal

import msgspec

WORKSPACE_OWNER = "workspace-owner"
ROLES: tuple[str, ...] = (
    WORKSPACE_OWNER,
    "source-admin",
    "source-read-only",
    "tracking-plan-admin",
    "tracking-plan-read-only",
    "function-admin",
    "function-read-only",
    "unify-engage-admin",
    "unify-engage-read-only",
    "unify-read-only",
    "identity-admin",
    "privacy-admin",
)


class Grant(msgspec.Struct, frozen=True, kw_only=True):
    """One role; `resources` None means every resource of the workspace."""

    role: str
    resources: tuple[str, ...] | None = None


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """The actor of a request or a command: what the audit trail records and what permission
    checks read. `pii_access` is the separate flag that unmasks yellow and red PII fields."""

    kind: Literal["token", "user", "cli"]
    id: str
    name: str
    workspace_id: str
    grants: tuple[Grant, ...] = (Grant(role=WORKSPACE_OWNER),)
    pii_access: bool = True

    @property
    def is_owner(self) -> bool:
        return any(g.role == WORKSPACE_OWNER and g.resources is None for g in self.grants)


def cli_principal(workspace_id: str) -> Principal:
    """The operator at the machine's shell: owner of everything, like the data directory's
    owner is (whoever can run the CLI on the data directory can read every byte anyway)."""
    return Principal(kind="cli", id="cli", name="cli", workspace_id=workspace_id)
