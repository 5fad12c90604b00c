"""Size limits of the Tracking API, as Segment documents them."""

from __future__ import annotations

import msgspec


class Limits(msgspec.Struct, frozen=True):
    """Byte limits applied before a message is accepted."""

    max_message_bytes: int = 32 * 1024
    max_request_bytes: int = 500 * 1024
    max_batch_messages: int = 2500
