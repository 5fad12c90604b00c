"""What a destination's action raises; the error class decides retry or dead letter.

A delivery worker turns a `RetryableError` into another attempt later (after `retry_after`
when the tool said so, else exponential backoff with jitter) and a `PermanentError` into a dead
letter at once, with the request and response that show why.
"""

from __future__ import annotations


class DeliveryError(Exception):
    """A delivery failed. `request` and `response` are short renderings for the dead letter
    and the event tester (secrets removed)."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        request: str | None = None,
        response: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.request = request
        self.response = response


class RetryableError(DeliveryError):
    """Try again later: a timeout, a 5xx, a 429, a connection refused."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class PermanentError(DeliveryError):
    """Retrying cannot help: the tool refused the payload (4xx) or the settings are wrong."""


class InvalidPayload(PermanentError):
    """The mapped payload misses a required field or has the wrong type for one."""


class CannotDelete(DeliveryError):
    """A destination's `delete` has nothing to act on with this instance's configuration (no
    literal URL or audience id to delete from): the regulation reports NOT_SUPPORTED, with this
    message as the reason."""
