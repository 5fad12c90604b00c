"""JSON Web Tokens signed with an RSA private key (RS256), for tools that authenticate a
service by a key pair: Snowflake's key-pair authentication and Google's service accounts both
take such a token, built from claims the tool documents.

cryptography is imported when a token is made, never when the catalog is listed.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from seamline.destinations.errors import PermanentError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

MAX_KEY = 20_000
"""Characters of PEM accepted: a 4096-bit key is about 3,300."""


def rsa_key(pem: str, passphrase: str | None = None) -> RSAPrivateKey:
    """The RSA private key in `pem` (PKCS#8 or PKCS#1, encrypted when `passphrase` is given);
    PermanentError when it is not one, since no retry can fix a setting."""
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    if not pem.strip() or len(pem) > MAX_KEY:
        raise PermanentError("the private key setting is empty or too long")
    secret = passphrase.encode() if passphrase else None
    try:
        key = load_pem_private_key(pem.strip().encode(), password=secret)
    except (ValueError, TypeError) as error:
        raise PermanentError(f"the private key cannot be read: {error}") from None
    if not isinstance(key, RSAPrivateKey):
        raise PermanentError("the private key must be an RSA key")
    return key


def rs256(claims: Mapping[str, Any], key: RSAPrivateKey, header: Mapping[str, str] = {}) -> str:
    """`claims` signed by `key` as a compact JWT (header `alg` RS256, `typ` JWT, plus
    `header`, e.g. a `kid`)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    head = {"alg": "RS256", "typ": "JWT", **header}
    signing_input = f"{_part(head)}.{_part(dict(claims))}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}"


def _part(value: Mapping[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":"), sort_keys=True).encode())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
