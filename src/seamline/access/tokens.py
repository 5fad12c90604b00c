"""Access tokens for the Profile API and, later, the management API.

Only a SHA-256 of each token is stored; the token itself is shown once, when created.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Protocol

import msgspec

TOKEN_PREFIX = "sl_"


class Token(msgspec.Struct, frozen=True, kw_only=True):
    """A token's record (never the token itself)."""

    id: str
    workspace_id: str
    name: str
    created_at: datetime


class TokenStore(Protocol):
    def add(self, token: Token, digest: str) -> None: ...

    def by_digest(self, digest: str) -> Token | None: ...


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(store: TokenStore, workspace_id: str, name: str) -> tuple[Token, str]:
    """Create a token; returns its record and the secret, which is not kept anywhere."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = Token(
        id="tok_" + secrets.token_hex(8),
        workspace_id=workspace_id,
        name=name,
        created_at=datetime.now(UTC),
    )
    store.add(record, digest(secret))
    return record, secret


def authenticate(store: TokenStore, secret: str) -> Token | None:
    """The token record for a presented secret, or None."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    return store.by_digest(digest(secret))
