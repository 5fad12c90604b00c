"""What each role allows, as sentences: roles are additive, scoped grants reach only their
resources, owners reach everything; and how `--role` text becomes a grant."""

from __future__ import annotations

import pytest

from seamline.access.permissions import (
    AUDIT_READ,
    AUTHENTICATED,
    ENGAGE_WRITE,
    FUNCTIONS_WRITE,
    PROFILES_READ,
    REGULATIONS_WRITE,
    ROLE_PERMISSIONS,
    SOURCES_READ,
    SOURCES_WRITE,
    TOKENS_MANAGE,
    allows,
    allows_some,
    describe,
    parse_grant,
    with_source_ids,
)
from seamline.access.principal import ROLES, Grant, Principal
from seamline.errors import InvalidInput


def principal(*roles: str) -> Principal:
    grants = tuple(parse_grant(r) for r in roles)
    return Principal(kind="token", id="tok_1", name="t", workspace_id="default", grants=grants)


@pytest.mark.parametrize(
    ("roles", "permission", "resource", "allowed"),
    [
        # An owner may do everything, including what no other role grants.
        (("workspace-owner",), TOKENS_MANAGE, None, True),
        (("workspace-owner",), AUDIT_READ, None, True),
        # Read-only roles read and never write.
        (("source-read-only",), SOURCES_READ, "src_web", True),
        (("source-read-only",), SOURCES_WRITE, "src_web", False),
        # A scoped admin writes its own source, not another, and not "all sources".
        (("source-admin:src_web",), SOURCES_WRITE, "src_web", True),
        (("source-admin:src_web",), SOURCES_WRITE, "src_app", False),
        (("source-admin:src_web",), SOURCES_WRITE, None, False),
        # Roles add up: a second grant gives what the first does not.
        (("source-admin:src_web", "source-read-only"), SOURCES_READ, "src_app", True),
        (("source-admin:src_web", "source-read-only"), SOURCES_WRITE, "src_app", False),
        # Only function admins (and owners) save code.
        (("function-admin",), FUNCTIONS_WRITE, None, True),
        (("function-read-only",), FUNCTIONS_WRITE, None, False),
        (("tracking-plan-admin",), FUNCTIONS_WRITE, None, False),
        # Unify read-only reads profiles and edits no audience.
        (("unify-read-only",), PROFILES_READ, "default", True),
        (("unify-read-only",), ENGAGE_WRITE, None, False),
        (("unify-engage-admin",), ENGAGE_WRITE, None, True),
        # Regulations belong to privacy admins; the audit trail and tokens to owners only.
        (("privacy-admin",), REGULATIONS_WRITE, None, True),
        (("unify-engage-admin",), REGULATIONS_WRITE, None, False),
        (("privacy-admin", "function-admin", "identity-admin"), AUDIT_READ, None, False),
        (("source-admin",), TOKENS_MANAGE, None, False),
        (("unify-read-only",), AUTHENTICATED, None, True),
    ],
)
def test_what_a_role_allows(
    roles: tuple[str, ...], permission: str, resource: str | None, allowed: bool
) -> None:
    assert allows(principal(*roles), permission, resource) is allowed


def test_a_scoped_grant_lets_a_list_in_and_the_list_shows_its_resources() -> None:
    scoped = principal("source-admin:src_web")
    assert allows_some(scoped, SOURCES_READ)
    assert not allows_some(scoped, FUNCTIONS_WRITE)
    assert [s for s in ("src_web", "src_app") if allows(scoped, SOURCES_READ, s)] == ["src_web"]


def test_every_role_has_a_row_and_only_owners_manage_tokens() -> None:
    assert set(ROLE_PERMISSIONS) == set(ROLES)
    assert not any(TOKENS_MANAGE in granted for granted in ROLE_PERMISSIONS.values())


@pytest.mark.parametrize(
    ("text", "grant"),
    [
        ("unify-read-only", Grant(role="unify-read-only")),
        (" source-admin : Web, App ,Web", Grant(role="source-admin", resources=("Web", "App"))),
    ],
)
def test_role_text_becomes_a_grant(text: str, grant: Grant) -> None:
    assert parse_grant(text) == grant
    assert parse_grant(describe([grant])[0]) == grant


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("owner", "unknown role 'owner'; roles are workspace-owner, source-admin"),
        ("workspace-owner:Web", "cannot be scoped"),
        ("source-admin:, ,", "name at least one resource"),
    ],
)
def test_bad_role_text_says_what_is_valid(text: str, says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        parse_grant(text)


def test_source_names_in_a_source_grant_become_ids() -> None:
    sources = [("src_1", "Web"), ("src_2", "App")]
    grant = with_source_ids(parse_grant("source-read-only:web,src_2,webhook-prod"), sources)
    assert grant.resources == ("src_1", "src_2", "webhook-prod")
    other = parse_grant("unify-read-only:web")
    assert with_source_ids(other, sources) == other  # a space, not a source
