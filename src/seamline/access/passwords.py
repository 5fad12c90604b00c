"""Password hashing: scrypt from the standard library, its parameters kept in each hash.

A hash reads `scrypt$N$r$p$salt$key` (salt and key in url-safe base64), so raising the cost
later leaves older hashes verifiable. N=2^15, r=8, p=1 (32 MiB) takes ~0.1 s on one core: slow
enough to make guessing costly, fast enough that a login does not become a way to load the
server (logins are throttled too; see `access/sessions.py`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from seamline.errors import InvalidInput

MIN_LENGTH = 12
MAX_LENGTH = 1024  # longer input only costs hashing time; no person types it
_N, _R, _P = 2**15, 8, 1
_MAXMEM = 64 * 1024 * 1024
_KEY_BYTES = 32


def check_password(password: str) -> None:
    """InvalidInput unless the password is long enough to be worth hashing."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"the password must have at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"the password must have at most {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    """A salted scrypt hash of `password`, with its parameters, for storing."""
    salt = secrets.token_bytes(16)
    key = _scrypt(password, salt, _N, _R, _P)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` is the one `stored` was made from (compared in constant time)."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.urlsafe_b64decode(key)
        found = _scrypt(password, base64.urlsafe_b64decode(salt), int(n), int(r), int(p))
    except ValueError:
        return False  # not a hash this module wrote: no password matches it
    return hmac.compare_digest(found, expected)


def verify_nothing(password: str) -> bool:
    """The work of `verify_password` for a user who does not exist, so that an unknown email
    and a wrong password take the same time to refuse (no user enumeration); always False."""
    _scrypt(password, bytes(16), _N, _R, _P)
    return False


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=_KEY_BYTES
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()
