"""The one error of the function sandbox."""

from __future__ import annotations


class SandboxUnavailable(Exception):
    """A layer of the function sandbox cannot be set up on this machine. The message says what
    is missing and what to do; the function then refuses to load instead of running bare."""
