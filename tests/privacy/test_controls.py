"""Controls applied to classified values: allow, hash (salted or plain), mask, drop."""

from __future__ import annotations

import hashlib

import pytest

from seamline.errors import InvalidInput
from seamline.privacy.controls import DROPPED, Control, apply_control, mask

SALT = b"workspace-salt"


@pytest.mark.parametrize(
    ("kind", "value", "masked"),
    [
        ("email", "Ann.Smith@example.com", "A***@example.com"),
        ("credit_card", "4111 1111 1111 1111", "************1111"),
        ("phone", "+31 6 1234 5678", "*******5678"),
        ("name", "Ann", "***"),
    ],
)
def test_mask(kind: str, value: str, masked: str) -> None:
    assert mask(kind, value) == masked


def test_plain_hash_matches_what_ad_platforms_compute() -> None:
    expected = hashlib.sha256(b"ann@example.com").hexdigest()
    assert apply_control("hash_plain", "email", "  Ann@Example.com ", SALT) == expected
    assert (
        apply_control(Control.HASH_PLAIN, "phone", "+31 (6) 1234-5678", SALT)
        == hashlib.sha256(b"+31612345678").hexdigest()
    )


def test_salted_hash_is_stable_per_workspace_and_differs_across_workspaces() -> None:
    first = apply_control("hash", "email", "ann@example.com", SALT)
    assert first == apply_control("hash", "email", "ANN@example.com", SALT)
    assert first != apply_control("hash", "email", "ann@example.com", b"other-salt")
    assert first != hashlib.sha256(b"ann@example.com").hexdigest()
    with pytest.raises(InvalidInput):
        apply_control("hash", "email", "ann@example.com", b"")


def test_allow_and_drop() -> None:
    assert apply_control("allow", "email", "a@b.io", SALT) == "a@b.io"
    assert apply_control("drop", "email", "a@b.io", SALT) is DROPPED
    with pytest.raises(ValueError):
        apply_control("shred", "email", "a@b.io", SALT)
