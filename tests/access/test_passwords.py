"""Password hashes: scrypt with its parameters in the hash, and the length rule."""

from __future__ import annotations

import pytest

from seamline.access.passwords import check_password, hash_password, verify_password
from seamline.errors import InvalidInput


def test_a_hash_verifies_its_password_only_and_never_holds_it() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("scrypt$32768$8$1$")
    assert "correct horse" not in stored
    assert verify_password("correct horse battery", stored)
    assert not verify_password("correct horse battery!", stored)
    assert hash_password("correct horse battery") != stored  # a new salt each time


@pytest.mark.parametrize(
    "stored", ["", "bcrypt$x", "scrypt$1$8$1$AAAA$AAAA", "scrypt$32768$8$1$not base64!$x"]
)
def test_a_malformed_hash_matches_no_password(stored: str) -> None:
    assert not verify_password("correct horse battery", stored)


def test_passwords_shorter_than_twelve_characters_are_refused() -> None:
    with pytest.raises(InvalidInput, match="at least 12 characters"):
        check_password("short-pass1")
    check_password("twelve chars")
