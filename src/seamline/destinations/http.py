"""The HTTP client actions use: it turns failures into retry-or-not errors and remembers the
last exchange (for dead letters and the event tester), with credentials left out."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from seamline.destinations.addresses import scheme_refusal
from seamline.destinations.client import GuardedTransport, NotAllowed
from seamline.destinations.errors import PermanentError, RetryableError

_SECRET_HEADERS = frozenset({"authorization", "x-api-key", "api-key", "x-auth-token"})
_RETRY_STATUSES = frozenset({408, 409, 425, 429})
_SHOWN = 2_000  # characters of a body kept for a dead letter


@dataclass
class Exchange:
    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str
    status: int | None = None
    response_body: str | None = None

    def request_text(self) -> str:
        headers = "\n".join(f"{k}: {v}" for k, v in self.request_headers.items())
        return f"{self.method} {self.url}\n{headers}\n\n{self.request_body[:_SHOWN]}"


class Http:
    """`secrets` are values (API keys in a query string, a webhook URL that is itself the
    secret) hidden wherever an exchange is recorded or reported."""

    def __init__(
        self, client: httpx.Client, timeout: float = 10.0, secrets: Collection[str] = ()
    ) -> None:
        self._client = client
        self._timeout = timeout
        self._secrets = sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True)
        self.exchanges: list[Exchange] = []

    def hide(self, values: Collection[str]) -> None:
        """Hide these values too wherever an exchange is recorded or reported: secrets an
        action holds in a structured setting (a destination function's secret settings)."""
        found = {*self._secrets, *(value for value in values if len(value) >= 4)}
        self._secrets = sorted(found, key=len, reverse=True)

    def hide_exchanges(self, url: str) -> None:
        """Blank the bodies of the exchanges recorded with `url` (a token endpoint's form holds
        credentials and its answer an access token): they may reach a dead letter."""
        shown = self._hide(url)
        for exchange in self.exchanges:
            if exchange.url == shown:
                exchange.request_body = exchange.response_body = "[hidden]"

    def _hide(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[hidden]")
        return text

    def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        content: bytes | str | None = None,
        data: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        timeout: float | None = None,
        check: bool = True,
    ) -> httpx.Response:
        """Send; a 2xx answer is returned, anything else raises Retryable or PermanentError.
        Redirects are not followed: a 3xx is a PermanentError (its target would be unchecked
        by whoever configured the URL). With `check` off every answer is returned (a
        destination function judges the status itself); failing to send still raises."""
        refused = scheme_refusal(urlsplit(url.strip()).scheme)
        if refused is not None:
            raise PermanentError(f"{self._hide(url)!r} is not allowed: {refused}")
        try:
            request = self._client.build_request(
                method,
                url,
                json=json,
                content=content,
                data=data,
                headers=headers,
                params=params,
                timeout=timeout or self._timeout,
            )
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as error:
            raise PermanentError(f"invalid URL {url!r}: {error}") from None
        exchange = Exchange(
            method=request.method,
            url=self._hide(str(request.url)),
            request_headers={
                k: "[hidden]" if k.lower() in _SECRET_HEADERS else self._hide(v)
                for k, v in request.headers.items()
            },
            request_body=self._hide(request.content.decode("utf-8", "replace")),
        )
        self.exchanges.append(exchange)
        del self.exchanges[:-20]
        try:
            response = self._client.send(request, follow_redirects=False)
        except (NotAllowed, httpx.UnsupportedProtocol) as error:  # retrying cannot help
            raise PermanentError(
                f"{exchange.method} {exchange.url} was not sent: {self._hide(str(error))}",
                request=exchange.request_text(),
            ) from None
        except httpx.TimeoutException:
            raise RetryableError(
                f"{exchange.method} {exchange.url} timed out", request=exchange.request_text()
            ) from None
        except httpx.TransportError as error:
            raise RetryableError(
                f"{exchange.method} {exchange.url} failed: {self._hide(str(error))}",
                request=exchange.request_text(),
            ) from None
        exchange.status = response.status_code
        exchange.response_body = self._hide(response.text[:_SHOWN])
        if response.is_success or not check:
            return response
        what = f"{exchange.method} {exchange.url} answered {response.status_code}"
        if response.is_redirect:
            where = self._hide(response.headers.get("location", ""))
            what += f" (a redirect to {where!r}; redirects are not followed)"
        detail = {
            "status": response.status_code,
            "request": exchange.request_text(),
            "response": exchange.response_body,
        }
        if response.status_code in _RETRY_STATUSES or response.status_code >= 500:
            raise RetryableError(
                what, retry_after=retry_after(response.headers.get("retry-after")), **detail
            )
        raise PermanentError(what, **detail)  # type: ignore[arg-type]

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def addresses(self, host: str, port: int) -> list[str]:
        """The checked addresses of `host` under the same rule as HTTP requests, for a
        destination that connects over another protocol: PermanentError when one is refused
        (or this client cannot check), RetryableError when the name does not resolve now."""
        transport = getattr(self._client, "_transport", None)
        if not isinstance(transport, GuardedTransport):
            raise PermanentError("this client cannot check addresses for non-HTTP connections")
        try:
            return transport.addresses(host, port)
        except NotAllowed as error:
            raise PermanentError(f"{host}:{port} is not allowed: {error}") from None
        except httpcore.ConnectError as error:
            raise RetryableError(str(error)) from None


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def reported_errors(response: httpx.Response) -> list[dict[str, Any]]:
    """The itemised errors a tool lists in a successful answer (`{"errors": [{…}, …]}`, as
    HubSpot's batch and Braze's users/track answers do); none when the body says nothing."""
    try:
        body = response.json()
    except ValueError:  # not JSON: nothing itemised to report
        return []
    errors = body.get("errors") if isinstance(body, dict) else None
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []
