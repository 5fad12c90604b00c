"""What every later stage can decode and every store can keep, checked once at the edge.

The Tracking API keeps free-form parts (`properties`, `traits`, `context`, `integrations`) as
raw JSON, and the pipeline decodes them later. A value msgspec skips over at the edge but cannot
decode later (`1e999`, a 5,000-digit integer, bytes that are not UTF-8) would fail a stage, so
each part is decoded here once, with the decoder the stages use, and refused with a stable code:

- `number_out_of_range`: a number past a 64-bit float (`1e999`), an integer of more digits than
  Python reads (4,300), or NaN/Infinity (which are not JSON). Other integers are kept exactly,
  as Segment keeps them: SQL reads anything past 2**53 as an approximate DOUBLE anyway, so a
  64-bit cut-off would refuse data without protecting a store;
- `invalid_unicode`: a lone UTF-16 surrogate (`"\\ud800"`) or bytes that are not UTF-8;
- `too_deep`: objects and arrays nested more than `Limits.max_depth` levels;
- `too_long`: an id, a messageId or a trait name longer than the column that keeps it.

Cost, measured on the ingest benchmark's event (750 bytes, CPU time in-process): decoding the
parts instead of only skipping over them, and the depth count, take a /v1/track message from
3.3 to 5.0 µs and a message of a 100-message batch from 3.7 to 5.0 µs (its messages' shared
context is decoded once per request). The two halves cost about the same.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import msgspec

MAX_KEY_CHARS = 256
"""Longest trait name (key at the top of `traits`); traits are kept in a 300-character column."""
MAX_ID_CHARS = 1000
"""Longest userId, anonymousId, groupId or previousId (the identity store's column)."""
MAX_MESSAGE_ID_CHARS = 200
"""Longest messageId (the held-message and identity stores' column; Segment asks for < 100)."""

# Untyped decoding is the cheapest full decode msgspec offers (cheaper than dict[str, Any]).
_part_decoder = msgspec.json.Decoder()


class Invalid(Exception):
    """One message cannot be accepted: a stable `code` and a message for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def decode_part(text: bytes | msgspec.Raw, field: str) -> dict[str, Any] | None:
    """The part (the text of `properties`, say) as a dict, or None for `null`; `Invalid` when it
    is not an object or holds a value the stages cannot decode."""
    try:
        value = _part_decoder.decode(text)
    except msgspec.ValidationError as exc:  # only numbers fail validation when untyped
        raise Invalid("number_out_of_range", f"{field}: {number_problem(str(exc))}") from None
    except msgspec.DecodeError:
        raise Invalid("invalid_unicode", f"{field} holds text that is not valid UTF-8") from None
    if type(value) is dict:
        if field == "traits" and value and max(map(len, value)) > MAX_KEY_CHARS:
            raise Invalid("too_long", f"trait names are at most {MAX_KEY_CHARS} characters")
        return value
    if value is None:
        return None
    raise Invalid("invalid_message", f"{field} must be an object")


def number_problem(text: str) -> str:
    """msgspec's range error, said in terms of what to send instead."""
    if text.startswith("Integer"):
        return "an integer has more than 4,300 digits"
    return "a number is beyond a 64-bit float's range (about ±1.8e308)"


def check_depth(raw: bytes, limit: int, *, inside: int = 0) -> None:
    """`Invalid` when the message holding `raw` (`inside` levels down) would nest objects and
    arrays more than `limit` levels, the message itself being the first. Almost every value has
    fewer brackets than that, which settles it in one or two C-speed counts; only the others
    are measured exactly."""
    allowed = limit - inside
    if raw.count(b"{") + (raw.count(b"[") if b"[" in raw else 0) <= allowed:
        return
    if nesting(raw, allowed) > allowed:
        raise too_deep(limit)


def too_deep(limit: int) -> Invalid:
    """The rejection of a message nested more than `limit` levels."""
    return Invalid("too_deep", f"objects and arrays nest more than {limit} levels deep")


_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_OPEN_CLOSE = bytes.maketrans(b"[]", b"{}")
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"{}[]")


def nesting(raw: bytes, limit: int) -> int:
    """How deep objects and arrays nest in the JSON text `raw`, counted up to `limit + 1`.

    Strings are cut out (brackets in text do not nest), the rest is reduced to its brackets,
    and each round removes the innermost pairs: the number of rounds is the depth. No
    recursion, so no depth can overflow the stack here.
    """
    skeleton = _STRING.sub(b"", raw).translate(_OPEN_CLOSE, _NOT_BRACKETS)
    if b"{" * (limit + 1) in skeleton:  # the usual attack, settled without the rounds
        return limit + 1
    depth = 0
    while skeleton and depth <= limit:
        shorter = skeleton.replace(b"{}", b"")
        if len(shorter) == len(skeleton):
            break  # unbalanced: not JSON, which the decoder reports
        skeleton = shorter
        depth += 1
    return depth


class Flaw(NamedTuple):
    """A spot for which msgspec refuses a whole document, and a stand-in of the same length
    that it reads, so a batch can be split and only the message holding the spot refused."""

    offset: int
    text: bytes
    stand_in: bytes
    code: str

    def problem(self, offset: int) -> Invalid:
        """The rejection, naming the spot `offset` bytes into its message."""
        if self.code == "invalid_unicode":
            return Invalid(
                self.code,
                f"{self.text.decode()} at byte {offset} is half of a UTF-16 surrogate pair; "
                "text must be valid Unicode",
            )
        return Invalid(
            self.code,
            f"{self.text.decode()} at byte {offset} is not a JSON number; "
            "send a finite number or null",
        )


# One JSON escape at a time, left to right, so `\\ud800` (an escaped backslash, then text) is
# not taken for an escape: an escaped backslash, a valid surrogate pair, or a lone surrogate.
_ESCAPE = re.compile(
    rb"\\\\|\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}"
    rb"|(\\u[dD][89a-fA-F][0-9a-fA-F]{2})"
)
# NaN and Infinity (which Python's json.dumps writes) outside strings; strings are skipped whole.
_NON_FINITE = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|(-?Infinity|NaN)')
_STAND_IN = {b"NaN": b"0e0", b"Infinity": b"1e000000", b"-Infinity": b"-1e000000"}


def flaws(raw: bytes) -> list[Flaw]:
    """Every lone surrogate escape and NaN/Infinity literal in the JSON text `raw`, in order.
    Only called once msgspec has refused `raw`, so the regular expressions cost nothing on the
    way of a valid request."""
    found = [
        Flaw(m.start(1), m.group(1), b"\\ufffd", "invalid_unicode")
        for m in _ESCAPE.finditer(raw)
        if m.group(1)
    ]
    found += [
        Flaw(m.start(1), m.group(1), _STAND_IN[m.group(1)], "number_out_of_range")
        for m in _NON_FINITE.finditer(raw)
        if m.group(1)
    ]
    return sorted(found)


def mended(raw: bytes, found: list[Flaw]) -> bytes:
    """`raw` with each flaw replaced by its stand-in (offsets are unchanged)."""
    text = bytearray(raw)
    for flaw in found:
        text[flaw.offset : flaw.offset + len(flaw.text)] = flaw.stand_in
    return bytes(text)


def unreadable(raw: bytes, error: msgspec.DecodeError) -> Invalid:
    """Why msgspec could not read `raw`: text that is not Unicode, a number JSON does not
    have, or malformed JSON."""
    found = flaws(raw)
    if found:
        return found[0].problem(found[0].offset)
    try:
        raw.decode()
    except UnicodeDecodeError as exc:
        return Invalid("invalid_unicode", f"byte {exc.start} is not valid UTF-8")
    return Invalid("invalid_json", f"body is not valid JSON: {error}")
