"""The exceptions domain code raises; each carries a stable `code` the API and CLI expose."""

from __future__ import annotations

from typing import Any


class SeamlineError(Exception):
    """Base of every error Seamline reports to a user.

    `code` is stable (clients match on it), `message` is for people, `status` is the HTTP status
    the API answers with, and `details` carries structured context.
    """

    code = "error"
    status = 400

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return body


class InvalidInput(SeamlineError):
    """The input is malformed or breaks a documented rule; nothing was changed."""

    code = "invalid_input"


class UrlNotAllowed(InvalidInput):
    """A destination URL that may never be sent to: not http(s), or a loopback, private,
    link-local or other refused address (see docs/destinations.md, Network safety)."""

    code = "url_not_allowed"


class Unauthorized(SeamlineError):
    """The caller did not prove who it is (missing, unknown or disabled write key or token)."""

    code = "unauthorized"
    status = 401


class Forbidden(SeamlineError):
    """The caller is known but its roles do not allow this (docs/access.md, Tokens and roles)."""

    code = "forbidden"
    status = 403


class NotFound(SeamlineError):
    code = "not_found"
    status = 404


class Conflict(SeamlineError):
    code = "conflict"
    status = 409


class UnsupportedMediaType(SeamlineError):
    """A request body in a format the route does not read (the management API reads JSON)."""

    code = "unsupported_media_type"
    status = 415


class TooLarge(SeamlineError):
    """Over a documented size limit. Segment answers 400 here, so SDKs drop rather than retry."""

    code = "payload_too_large"
    status = 400


class Unavailable(SeamlineError):
    """Seamline cannot accept work right now (starting, stopping, disk full); retry later."""

    code = "unavailable"
    status = 503
