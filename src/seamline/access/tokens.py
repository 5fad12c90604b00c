"""Access tokens for the Profile API and the management API.

Only a SHA-256 of each token is stored; the token itself is shown once, when created. A revoked
token keeps its record (name, dates) but never authenticates again. A token carries role grants
(`seamline.access.permissions`) and the PII access flag; without roles it is a workspace owner's
token, which sees PII.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Protocol

import msgspec

from seamline.access.principal import WORKSPACE_OWNER, Grant, Principal
from seamline.errors import Conflict, InvalidInput, NotFound

TOKEN_PREFIX = "sl_"
# Last use is recorded at most this often per token: one write a minute, not one per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class Token(msgspec.Struct, frozen=True, kw_only=True):
    """A token's record (never the token itself): what it may do and whether it sees PII."""

    id: str
    workspace_id: str
    name: str
    created_at: datetime
    grants: tuple[Grant, ...] = (Grant(role=WORKSPACE_OWNER),)
    pii_access: bool = True
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class TokenStore(Protocol):
    def add(self, token: Token, digest: str) -> None: ...

    def by_digest(self, digest: str) -> Token | None: ...

    def in_workspace(self, workspace_id: str) -> list[Token]: ...

    def revoke(self, token_ids: list[str], at: datetime) -> None: ...

    def touch(self, token_id: str, at: datetime) -> None: ...

    def replace(self, old_id: str, token: Token, digest: str, at: datetime) -> None:
        """Revoke `old_id` and add `token` in one transaction."""
        ...


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    store: TokenStore,
    workspace_id: str,
    name: str,
    grants: tuple[Grant, ...] = (),
    *,
    pii_access: bool = False,
) -> tuple[Token, str]:
    """Create a token; returns its record and the secret, which is not kept anywhere.

    No grants makes a workspace owner's token; an owner's token always has PII access, any
    other only when `pii_access` says so. Names are unique among a workspace's active tokens,
    so `revoke NAME` means one token.
    """
    if any(t.name == name and t.revoked_at is None for t in store.in_workspace(workspace_id)):
        raise Conflict(
            f"a token named {name!r} already exists; revoke it first "
            f"(`seamline tokens revoke {name}`) or choose another --name"
        )
    grants = grants or (Grant(role=WORKSPACE_OWNER),)
    owner = any(g.role == WORKSPACE_OWNER for g in grants)
    secret, record = _new(workspace_id, name, grants, pii_access or owner)
    store.add(record, digest(secret))
    return record, secret


def rotate_token(store: TokenStore, workspace_id: str, name: str) -> tuple[Token, str]:
    """A new secret for the active token `name` (or id), same name, grants and PII flag; the
    old secret stops working in the same transaction."""
    old = _active(store, workspace_id, name)[0]
    secret, record = _new(workspace_id, old.name, old.grants, old.pii_access)
    store.replace(old.id, record, digest(secret), datetime.now(UTC))
    return record, secret


def principal_of(token: Token) -> Principal:
    """The actor a token stands for: its grants and PII flag, in its workspace."""
    return Principal(
        kind="token",
        id=token.id,
        name=token.name,
        workspace_id=token.workspace_id,
        grants=token.grants,
        pii_access=token.pii_access,
    )


def _new(
    workspace_id: str, name: str, grants: tuple[Grant, ...], pii_access: bool
) -> tuple[str, Token]:
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = Token(
        id="tok_" + secrets.token_hex(8),
        workspace_id=workspace_id,
        name=name,
        created_at=datetime.now(UTC),
        grants=grants,
        pii_access=pii_access,
    )
    return secret, record


def revoke_token(store: TokenStore, workspace_id: str, name: str) -> list[Token]:
    """Revoke the active token(s) named `name` (or with that id); returns what was revoked."""
    active = _active(store, workspace_id, name)
    store.revoke([t.id for t in active], datetime.now(UTC))
    return active


def _active(store: TokenStore, workspace_id: str, name: str) -> list[Token]:
    if not name.strip():
        raise InvalidInput("NAME must not be empty")
    named = [t for t in store.in_workspace(workspace_id) if name in (t.name, t.id)]
    active = [t for t in named if t.revoked_at is None]
    if not active:
        if named:
            raise InvalidInput(f"the token {name!r} is already revoked")
        raise NotFound(f"no token named {name!r}; see `seamline tokens list`")
    return active


def authenticate(store: TokenStore, secret: str) -> Token | None:
    """The active token record for a presented secret, or None (unknown or revoked)."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    found = store.by_digest(digest(secret))
    if found is None or found.revoked_at is not None:
        return None
    now = datetime.now(UTC)
    if found.last_used_at is None or now - found.last_used_at >= LAST_USED_RESOLUTION:
        store.touch(found.id, now)
    return found
