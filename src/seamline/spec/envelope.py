"""What the log holds for each accepted message: the normalised message and its source."""

from __future__ import annotations

from typing import NamedTuple

import msgspec

from seamline.spec.messages import Message


class Envelope(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An accepted message with the workspace and source it arrived on.

    `rerun` is set when a held message is appended again (`seamline quarantine rerun`): it is
    the held record's id, so the re-run is not taken for a duplicate of the first attempt,
    while re-running the same held record twice still is one.
    """

    workspace_id: str
    source_id: str
    message: Message
    rerun: int | None = None


class Item(NamedTuple):
    """An envelope read back from the log, with its log offset and (once resolved) profile."""

    offset: int
    envelope: Envelope
    profile_id: str | None = None


envelope_encoder = msgspec.json.Encoder()
envelope_decoder = msgspec.json.Decoder(Envelope)
envelopes_decoder = msgspec.json.Decoder(list[Envelope])
