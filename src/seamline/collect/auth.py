"""HTTP Basic credentials: the user name carries a write key (Tracking API) or a token."""

from __future__ import annotations

import base64
import binascii

from seamline.errors import Unauthorized


def basic_user(header: bytes | str | None) -> str | None:
    """The user name of an HTTP Basic `Authorization` header; None when there is none.

    Raises `Unauthorized` for a Basic header that does not decode.
    """
    if not header:
        return None
    raw = header.encode("latin-1") if isinstance(header, str) else header
    if raw[:6].lower() != b"basic ":
        return None
    try:
        decoded = base64.b64decode(raw[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("Authorization header is not valid Basic auth") from None
    return decoded.split(":", 1)[0] or None
