"""Secrets at rest: destination settings marked secret are stored sealed (Fernet: AES-128-CBC
with an HMAC), never in clear, and are never shown back by the API.

The key comes from the `secret_key` setting (`SEAMLINE_SECRET_KEY`; every process of a
scaled-out deployment needs the same one), else from `secret.key` in the data directory, made
on first use with owner-only permissions.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from seamline.errors import InvalidInput

SEALED = "$sealed"
HIDDEN = "[secret]"
"""What the API shows instead of a secret; sending it back keeps the stored value."""


class Sealer:
    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError):
            raise InvalidInput(
                "secret_key must be 32 url-safe base64-encoded bytes; make one with "
                '`python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())"`'
            ) from None

    def seal(self, text: str) -> dict[str, str]:
        return {SEALED: self._fernet.encrypt(text.encode()).decode()}

    def unseal(self, value: Any) -> Any:
        """The clear value of a sealed one; anything else as it is."""
        if not is_sealed(value):
            return value
        try:
            return self._fernet.decrypt(value[SEALED].encode()).decode()
        except InvalidToken:
            raise InvalidInput(
                "a stored secret cannot be read with this secret_key; set the key it was "
                "sealed with, or set the secret again"
            ) from None


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {SEALED}


def key_from(setting: str | None, data_dir: Path) -> bytes:
    """The sealing key: the setting's, else the data directory's key file (made if missing)."""
    if setting:
        return setting.encode()
    path = data_dir / "secret.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(Fernet.generate_key())
    return path.read_bytes().strip()
