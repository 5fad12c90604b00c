"""Segment Spec messages: types, parsing, normalisation and limits. Pure: no I/O."""

from seamline.spec.envelope import Envelope
from seamline.spec.limits import Limits
from seamline.spec.messages import MESSAGE_TYPES, Message
from seamline.spec.parse import ParsedRequest, Rejection, parse_request

__all__ = [
    "MESSAGE_TYPES",
    "Envelope",
    "Limits",
    "Message",
    "ParsedRequest",
    "Rejection",
    "parse_request",
]
