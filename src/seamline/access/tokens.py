"""Access tokens for the Profile API and the management API.

Only a SHA-256 of each token is stored; the token itself is shown once, when created. A revoked
token keeps its record (name, dates) but never authenticates again.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Protocol

import msgspec

from seamline.errors import Conflict, InvalidInput, NotFound

TOKEN_PREFIX = "sl_"
# Last use is recorded at most this often per token: one write a minute, not one per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class Token(msgspec.Struct, frozen=True, kw_only=True):
    """A token's record (never the token itself).

    `scopes` None means full access to its workspace; roles and scopes narrow it later.
    """

    id: str
    workspace_id: str
    name: str
    created_at: datetime
    scopes: list[str] | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class TokenStore(Protocol):
    def add(self, token: Token, digest: str) -> None: ...

    def by_digest(self, digest: str) -> Token | None: ...

    def in_workspace(self, workspace_id: str) -> list[Token]: ...

    def revoke(self, token_ids: list[str], at: datetime) -> None: ...

    def touch(self, token_id: str, at: datetime) -> None: ...


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(store: TokenStore, workspace_id: str, name: str) -> tuple[Token, str]:
    """Create a token; returns its record and the secret, which is not kept anywhere.

    Names are unique among a workspace's active tokens, so `revoke NAME` means one token.
    """
    if any(t.name == name and t.revoked_at is None for t in store.in_workspace(workspace_id)):
        raise Conflict(
            f"a token named {name!r} already exists; revoke it first "
            f"(`seamline tokens revoke {name}`) or choose another --name"
        )
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = Token(
        id="tok_" + secrets.token_hex(8),
        workspace_id=workspace_id,
        name=name,
        created_at=datetime.now(UTC),
    )
    store.add(record, digest(secret))
    return record, secret


def revoke_token(store: TokenStore, workspace_id: str, name: str) -> list[Token]:
    """Revoke the active token(s) named `name` (or with that id); returns what was revoked."""
    if not name.strip():
        raise InvalidInput("NAME must not be empty")
    named = [t for t in store.in_workspace(workspace_id) if name in (t.name, t.id)]
    active = [t for t in named if t.revoked_at is None]
    if not active:
        if named:
            raise InvalidInput(f"the token {name!r} is already revoked")
        raise NotFound(f"no token named {name!r}; see `seamline tokens list`")
    store.revoke([t.id for t in active], datetime.now(UTC))
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
