"""Who is calling the management API or the Profile API: an access token, as a Bearer token or
as the Basic auth user name; the token's workspace is the one the call manages.

A 401 says which of the two went wrong (`details.reason`): no token was sent
(`missing_token`), or the one sent is not an active token of this server (`unknown_token`:
never created here — e.g. created in another data directory — or revoked).
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from seamline.access.tokens import Token, TokenStore, authenticate
from seamline.collect.auth import basic_user
from seamline.errors import Unauthorized


def require_token(tokens: TokenStore, secret: str | None, how: str) -> Token:
    """The active token for `secret`, or Unauthorized saying whether it is missing or unknown;
    `how` tells the caller how to send one."""
    if not secret:
        raise Unauthorized(
            f"no access token: send one {how} "
            "(create one with `seamline tokens create --name NAME`)",
            details={"reason": "missing_token"},
        )
    found = authenticate(tokens, secret)
    if found is None:
        raise Unauthorized(
            "unknown or revoked token: it is not an active token of this server's data "
            "directory (see `seamline tokens list`)",
            details={"reason": "unknown_token"},
        )
    return found


def token_dependency(tokens: TokenStore) -> Callable[[Request], Token]:
    """A FastAPI dependency that authenticates the caller and keeps the token on the request."""

    def token(request: Request) -> Token:
        header = request.headers.get("authorization") or ""
        secret = header[7:].strip() if header.lower().startswith("bearer ") else None
        secret = secret or basic_user(header)
        found = require_token(tokens, secret, "as `Authorization: Bearer TOKEN`")
        request.state.token = found
        return found

    return token


def workspace_of(request: Request) -> str:
    """The workspace of the token `token_dependency` authenticated for this request."""
    token: Token = request.state.token
    return token.workspace_id
