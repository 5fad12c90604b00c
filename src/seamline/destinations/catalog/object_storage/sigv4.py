"""AWS Signature Version 4 for S3 requests, header-based (the `Authorization` header).

Written from AWS's description of the algorithm (canonical request → string to sign → a key
derived from the secret by date, region and service → HMAC-SHA256), so requests go through the
destinations' HTTP client (its address guard and secret redaction) rather than an SDK's. The
payload's SHA-256 is signed too (`x-amz-content-sha256`), as S3 requires.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "s3"


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None


def encode(text: str, *, keep_slash: bool) -> str:
    """AWS's URI encoding: every byte but letters, digits and `-_.~` as %XY (upper case);
    `/` kept in a path, encoded in a query value."""
    return quote(text, safe="/-_.~" if keep_slash else "-_.~")


def payload_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def signed_headers(
    method: str,
    host: str,
    path: str,
    query: Mapping[str, str],
    body: bytes,
    credentials: Credentials,
    region: str,
    now: datetime,
    headers: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The headers to send with the request (`path` already encoded with `encode`): the
    caller's `headers`, the date, the payload hash, the session token if any, and
    `Authorization`."""
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    sent = {k.lower(): str(v).strip() for k, v in (headers or {}).items()}
    sent |= {"host": host, "x-amz-date": stamp, "x-amz-content-sha256": payload_hash(body)}
    if credentials.session_token:
        sent["x-amz-security-token"] = credentials.session_token
    names = sorted(sent)
    canonical = "\n".join(
        [
            method.upper(),
            path or "/",
            "&".join(
                f"{encode(k, keep_slash=False)}={encode(v, keep_slash=False)}"
                for k, v in sorted(query.items())
            ),
            "".join(f"{name}:{sent[name]}\n" for name in names),
            ";".join(names),
            sent["x-amz-content-sha256"],
        ]
    )
    scope = f"{stamp[:8]}/{region}/{SERVICE}/aws4_request"
    to_sign = "\n".join([ALGORITHM, stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + credentials.secret_access_key).encode()
    for part in (stamp[:8], region, SERVICE, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    sent["authorization"] = (
        f"{ALGORITHM} Credential={credentials.access_key_id}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    del sent["host"]  # httpx sends it from the URL, the same value
    return sent
