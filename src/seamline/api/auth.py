"""Who is calling the management API: an access token, as a Bearer token or as the Basic auth
user name; the token's workspace is the one the call manages."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from seamline.access.tokens import Token, TokenStore, authenticate
from seamline.collect.auth import basic_user
from seamline.errors import Unauthorized


def token_dependency(tokens: TokenStore) -> Callable[[Request], Token]:
    """A FastAPI dependency that authenticates the caller and keeps the token on the request."""

    def token(request: Request) -> Token:
        header = request.headers.get("authorization") or ""
        secret = header[7:].strip() if header.lower().startswith("bearer ") else None
        secret = secret or basic_user(header)
        found = authenticate(tokens, secret) if secret else None
        if found is None:
            raise Unauthorized(
                "send an access token as `Authorization: Bearer TOKEN` "
                "(create one with `seamline tokens create --name NAME`)"
            )
        request.state.token = found
        return found

    return token


def workspace_of(request: Request) -> str:
    """The workspace of the token `token_dependency` authenticated for this request."""
    token: Token = request.state.token
    return token.workspace_id
