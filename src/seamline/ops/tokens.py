"""Access tokens as the CLI and the management API show and make them (access/tokens.py holds
the rules): what a listing and the audit trail show of a token (never its secret or digest),
and the grants a token's roles name."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from seamline.access.permissions import describe, parse_grant, with_source_ids
from seamline.access.principal import Grant
from seamline.access.tokens import Token


def token_grants(roles: Iterable[str], sources: Iterable[tuple[str, str]]) -> tuple[Grant, ...]:
    """Grants from roles written `ROLE` or `ROLE:A,B`, source names stored as source ids
    (`sources`: the workspace's (id, name) pairs); none makes a workspace owner's token."""
    known = list(sources)
    return tuple(with_source_ids(parse_grant(role), known) for role in roles)


def token_document(token: Token) -> dict[str, Any]:
    """What the trail shows of a token: never its secret or digest."""
    return {
        "id": token.id,
        "name": token.name,
        "roles": describe(token.grants),
        "pii_access": token.pii_access,
    }


def token_row(token: Token) -> dict[str, Any]:
    """A token as `tokens list --json` and `GET /api/v1/tokens` show it (no secret)."""
    return {
        "id": token.id,
        "name": token.name,
        "created_at": _when(token.created_at),
        "last_used_at": _when(token.last_used_at),
        "revoked_at": _when(token.revoked_at),
        "roles": describe(token.grants),
        "pii_access": token.pii_access,
    }


def _when(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()
