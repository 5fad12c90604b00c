"""OAuth 2.0 access tokens from a refresh token, as the ads APIs (Google Ads, LinkedIn) issue
them: `POST {token_url}` with a form `grant_type=refresh_token, client_id, client_secret,
refresh_token`, answered `{access_token, expires_in}`.

The token is kept in the instance's state until a minute before it expires (Google's last an
hour, LinkedIn's sixty days), so a delivery run asks once. The form holds the client secret and
the refresh token, and the answer the access token, which the HTTP client's header hiding would
not catch, so both are kept out of every recorded exchange and error (a refusal's answer, like
`invalid_grant`, is kept: it says what is wrong).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from seamline.destinations.definition import Context
from seamline.destinations.errors import DeliveryError, PermanentError

_MARGIN = 60.0  # seconds before expiry a token is no longer used
_DEFAULT_LIFETIME = 3_600.0


def access_token(ctx: Context, key: str, token_url: str, settings: Mapping[str, str]) -> str:
    """A valid access token, from `ctx.state[key]` or fetched with `settings` (client_id,
    client_secret, refresh_token). PermanentError when the endpoint refuses the grant."""
    cached = ctx.state.get(key)
    if isinstance(cached, tuple) and len(cached) == 2 and cached[1] > time.monotonic():
        return str(cached[0])
    form = {"grant_type": "refresh_token", **settings}
    try:
        response = ctx.http.post(token_url, data=form)
    except DeliveryError as error:
        error.request = f"POST {token_url} (form hidden: it holds credentials)"
        if error.status in (400, 401):
            # invalid_grant / invalid_client: a revoked refresh token or a wrong client.
            raise PermanentError(
                f"{token_url} refused the refresh token: {error.response or error.message}",
                status=error.status,
                request=error.request,
                response=error.response,
            ) from None
        raise
    finally:
        for exchange in ctx.http.exchanges:
            if exchange.url.split("?")[0] == token_url.split("?")[0]:
                exchange.request_body = "[hidden]"
                if exchange.status is not None and 200 <= exchange.status < 300:
                    exchange.response_body = "[hidden: it holds the access token]"
    body = response.json()
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise PermanentError(f"{token_url} answered without an access_token")
    lifetime = body.get("expires_in")
    seconds = float(lifetime) if isinstance(lifetime, int | float) else _DEFAULT_LIFETIME
    ctx.state[key] = (token, time.monotonic() + max(0.0, seconds - _MARGIN))
    return token


def forget(ctx: Context, key: str, token: str) -> None:
    """Drop a token the API refused (401), unless another delivery already replaced it."""
    cached = ctx.state.get(key)
    if isinstance(cached, tuple) and cached and cached[0] == token:
        del ctx.state[key]
