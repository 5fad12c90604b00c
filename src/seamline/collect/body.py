"""Reading a request body within the size limit, and undoing gzip."""

from __future__ import annotations

import zlib
from typing import Any

from seamline.errors import InvalidInput, SeamlineError, TooLarge

Receive = Any


class ClientGone(Exception):
    """The client disconnected before sending its whole body."""


class UnsupportedMediaType(SeamlineError):
    code = "unsupported_media_type"
    status = 415


_NOT_JSON = (b"multipart/form-data",)


def check_content_type(content_type: bytes) -> None:
    """Bodies are JSON whatever the label: the browser SDK sends text/plain to avoid a CORS
    preflight and `curl -d` says form-urlencoded; only multipart is refused, as it never is."""
    essence = content_type.split(b";", 1)[0].strip().lower()
    if essence in _NOT_JSON:
        raise UnsupportedMediaType(
            f"Content-Type {essence.decode(errors='replace')!r} is not accepted; "
            "send JSON as application/json or text/plain"
        )


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole body; `TooLarge` as soon as it passes `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def decode_content(body: bytes, encoding: bytes, limit: int) -> bytes:
    """Undo `Content-Encoding` (gzip, deflate or none), never inflating past `limit` bytes."""
    encoding = encoding.strip().lower()
    if encoding in (b"", b"identity"):
        return body
    if encoding not in (b"gzip", b"deflate"):
        raise UnsupportedMediaType(
            f"Content-Encoding {encoding.decode(errors='replace')!r} is not supported; "
            "use gzip or none"
        )
    # 47 = 32 + 15: let zlib detect a gzip or zlib header itself.
    inflater = zlib.decompressobj(47)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise InvalidInput(f"body is not valid {encoding.decode()} data: {exc}") from None
    if len(data) > limit or inflater.unconsumed_tail:
        raise _too_large(limit)
    if not inflater.eof:
        raise InvalidInput(f"{encoding.decode()} body is truncated")
    return data


def _too_large(limit: int) -> TooLarge:
    return TooLarge(
        f"request body is over the limit of {limit} bytes; send smaller batches",
        details={"limit": limit},
    )
