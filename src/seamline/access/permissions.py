"""What each role may do: the permissions routes declare, and which roles grant them.

Follows Segment's role descriptions (Access Management → Roles): owners do everything;
source admins edit their sources and the destinations connected to them, source read-only
users read them; tracking plan, function, Unify/Engage, identity and privacy roles each cover
their area, an admin editing and a read-only role reading. Roles are additive: a principal may
do what any of its grants allows. A grant scoped to listed resources allows a permission only
on those resources (a source, a destination, a space).

Seamline sends every source's events to every destination (a destination is not wired to one
source), so a source-scoped grant covers a destination when that destination is listed in the
grant by name too: `source-admin:Web,webhook-prod`.
"""

from __future__ import annotations

from collections.abc import Iterable

from seamline.access.principal import ROLES, WORKSPACE_OWNER, Grant, Principal
from seamline.errors import InvalidInput

PUBLIC = "public"
"""No token needed: health, readiness, `/metrics` (its own token), the SDK settings endpoint,
the docs pages, the Tracking API (write keys), login."""
AUTHENTICATED = "authenticated"
"""Any principal with a grant; the route itself shows only what the grants allow (the list of
every resource, the static destination catalog)."""

SOURCES_READ, SOURCES_WRITE = "sources:read", "sources:write"
DESTINATIONS_READ, DESTINATIONS_WRITE = "destinations:read", "destinations:write"
VIOLATIONS_READ = "violations:read"
INVENTORY_READ = "inventory:read"
TRACKING_PLANS_READ, TRACKING_PLANS_WRITE = "tracking-plans:read", "tracking-plans:write"
FUNCTIONS_READ, FUNCTIONS_WRITE = "functions:read", "functions:write"
ENGAGE_READ, ENGAGE_WRITE = "engage:read", "engage:write"
PROFILES_READ = "profiles:read"
IDENTITY_WRITE = "identity:write"
PRIVACY_READ, PRIVACY_WRITE = "privacy:read", "privacy:write"
REGULATIONS_READ, REGULATIONS_WRITE = "regulations:read", "regulations:write"
AUDIT_READ = "audit:read"
TOKENS_MANAGE = "tokens:manage"
USERS_MANAGE = "users:manage"

_SOURCE_READ = (SOURCES_READ, DESTINATIONS_READ, VIOLATIONS_READ, INVENTORY_READ)
_UNIFY_READ = (PROFILES_READ,)
_ENGAGE_READ = (*_UNIFY_READ, ENGAGE_READ)

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    # Everything, including what only an owner does (tokens, users, the audit trail).
    WORKSPACE_OWNER: frozenset(),  # checked by `is_owner`, not by this table
    "source-admin": frozenset((*_SOURCE_READ, SOURCES_WRITE, DESTINATIONS_WRITE)),
    "source-read-only": frozenset(_SOURCE_READ),
    "tracking-plan-admin": frozenset((TRACKING_PLANS_READ, TRACKING_PLANS_WRITE, VIOLATIONS_READ)),
    "tracking-plan-read-only": frozenset((TRACKING_PLANS_READ, VIOLATIONS_READ)),
    "function-admin": frozenset((FUNCTIONS_READ, FUNCTIONS_WRITE)),
    "function-read-only": frozenset((FUNCTIONS_READ,)),
    "unify-engage-admin": frozenset((*_ENGAGE_READ, ENGAGE_WRITE, IDENTITY_WRITE)),
    "unify-engage-read-only": frozenset(_ENGAGE_READ),
    "unify-read-only": frozenset(_UNIFY_READ),
    "identity-admin": frozenset((*_UNIFY_READ, IDENTITY_WRITE)),
    "privacy-admin": frozenset(
        (PRIVACY_READ, PRIVACY_WRITE, REGULATIONS_READ, REGULATIONS_WRITE, INVENTORY_READ)
    ),
}
assert set(ROLE_PERMISSIONS) == set(ROLES), "every role slug has a row"

PERMISSIONS: frozenset[str] = frozenset(
    {p for granted in ROLE_PERMISSIONS.values() for p in granted}
    | {AUDIT_READ, TOKENS_MANAGE, USERS_MANAGE}
)
"""Every permission a route may declare (besides PUBLIC and AUTHENTICATED)."""

KIND_PERMISSIONS: dict[str, tuple[str, str]] = {
    "tracking_plan": (TRACKING_PLANS_READ, TRACKING_PLANS_WRITE),
    "source_connection": (SOURCES_READ, SOURCES_WRITE),
    "transformation": (TRACKING_PLANS_READ, TRACKING_PLANS_WRITE),
    # Functions hold code that runs in the pipeline: only function admins and owners save one.
    "function": (FUNCTIONS_READ, FUNCTIONS_WRITE),
    "pii_matcher": (PRIVACY_READ, PRIVACY_WRITE),
    "pii_control": (PRIVACY_READ, PRIVACY_WRITE),
    "consent_category": (PRIVACY_READ, PRIVACY_WRITE),
    "destination": (DESTINATIONS_READ, DESTINATIONS_WRITE),
    "subscription": (DESTINATIONS_READ, DESTINATIONS_WRITE),
    "computed_trait": (ENGAGE_READ, ENGAGE_WRITE),
    "audience": (ENGAGE_READ, ENGAGE_WRITE),
    # A Reverse ETL model sends rows to destinations: destination admins edit and run one.
    "model": (DESTINATIONS_READ, DESTINATIONS_WRITE),
}
"""(read, write) permission of each workspace resource kind. A scoped grant reaches the
resources it lists by name (a source connection is named by its source's id)."""


def allows(principal: Principal, permission: str, resource: str | None = None) -> bool:
    """Whether any of the principal's grants gives `permission`; on `resource` when one is
    named (a scoped grant covers only its listed resources; with no resource named, only an
    unscoped grant does). AUTHENTICATED holds for every principal with a grant."""
    if permission == PUBLIC or principal.is_owner:
        return True
    if permission == AUTHENTICATED:
        return bool(principal.grants)
    return any(_gives(grant, permission, resource) for grant in principal.grants)


def allows_some(principal: Principal, permission: str) -> bool:
    """Whether some grant gives `permission` on at least one resource (lists then show only
    the allowed resources)."""
    if principal.is_owner or permission in (PUBLIC, AUTHENTICATED):
        return allows(principal, permission)
    return any(permission in ROLE_PERMISSIONS.get(g.role, ()) for g in principal.grants)


def _gives(grant: Grant, permission: str, resource: str | None) -> bool:
    if permission not in ROLE_PERMISSIONS.get(grant.role, ()):
        return False
    if grant.resources is None:
        return True
    return resource is not None and resource in grant.resources


def parse_grant(text: str) -> Grant:
    """A grant from `ROLE` or `ROLE:RESOURCE,RESOURCE…`; InvalidInput names the valid slugs."""
    role, colon, listed = text.strip().partition(":")
    role = role.strip()
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    if not colon:
        return Grant(role=role)
    resources = tuple(dict.fromkeys(r.strip() for r in listed.split(",") if r.strip()))
    if not resources:
        raise InvalidInput(f"{role}: name at least one resource after ':' (or drop the ':')")
    if role == WORKSPACE_OWNER:
        raise InvalidInput("workspace-owner covers the whole workspace; it cannot be scoped")
    return Grant(role=role, resources=resources)


def describe(grants: Iterable[Grant]) -> list[str]:
    """Grants as `ROLE` or `ROLE:A,B`, the way `--role` takes them."""
    return [g.role if g.resources is None else f"{g.role}:{','.join(g.resources)}" for g in grants]


SOURCE_ROLES = frozenset({"source-admin", "source-read-only"})


def with_source_ids(grant: Grant, sources: Iterable[tuple[str, str]]) -> Grant:
    """A source role's grant naming sources by id, as source connections and the `source`
    parameters name them: each listed resource that is a source's name (any case) or id
    becomes its id; anything else (a destination's name) stays as written."""
    if grant.role not in SOURCE_ROLES or grant.resources is None:
        return grant
    ids = {}
    for source_id, name in sources:
        ids[source_id] = source_id
        ids.setdefault(name.casefold(), source_id)
    resources = tuple(dict.fromkeys(ids.get(r, ids.get(r.casefold(), r)) for r in grant.resources))
    return Grant(role=grant.role, resources=resources)
