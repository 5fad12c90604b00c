"""Limits of the Tracking API: sizes as Segment documents them, and nesting depth."""

from __future__ import annotations

import msgspec


class Limits(msgspec.Struct, frozen=True):
    """Limits applied before a message is accepted.

    `max_depth` counts nested objects and arrays, the message itself being the first level.
    64 is far beyond real events (Segment's e-commerce spec nests four: message, properties,
    products, a product), and keeps every stage that walks a value recursively (PII
    classification, transformations, mappings) far from Python's 1,000-frame limit.
    """

    max_message_bytes: int = 32 * 1024
    max_request_bytes: int = 500 * 1024
    max_batch_messages: int = 2500
    max_depth: int = 64
