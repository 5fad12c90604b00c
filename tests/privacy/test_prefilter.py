"""The byte-level prefilter never says "no" where a control could apply (its misses would be
PII left unprotected); it may say "maybe" where nothing applies."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from seamline.privacy.fields import FieldClassifier, PiiControl, control_fields
from seamline.privacy.pii import DEFAULT_MATCHERS, Classification, classify
from seamline.privacy.prefilter import Prefilter
from tests.privacy.test_pii import CORPUS

CONTROLS = [
    [PiiControl(control="drop", classification=Classification.RED)],
    [PiiControl(control="mask", classification=Classification.YELLOW)],
    [PiiControl(control="hash", kind="email")],
    [PiiControl(control="mask", kind="ip_address")],
    [PiiControl(control="drop", kind="phone"), PiiControl(control="drop", kind="ssn")],
]


def selected(controls: list[PiiControl], path: str, value: Any) -> bool:
    return any(c.selects(m) for c in controls for m in classify(path, value))


@pytest.mark.parametrize(
    "controls", CONTROLS, ids=lambda c: ",".join(x.kind or x.classification or "" for x in c)
)
@pytest.mark.parametrize(("path", "value", "kind"), CORPUS)
def test_no_field_a_control_selects_is_skipped(
    controls: list[PiiControl], path: str, value: Any, kind: str | None
) -> None:
    prefilter = Prefilter(controls, DEFAULT_MATCHERS)
    key = path.rsplit(".", 1)[-1]
    for document in ({key: value}, {"outer": {key: value}}, {"items": [{key: value}]}):
        raw = msgspec.json.encode(document)
        if selected(controls, path, value):
            assert prefilter.may_apply(raw), (raw, controls)


def test_a_part_with_nothing_selected_is_skipped() -> None:
    red = Prefilter(CONTROLS[0], DEFAULT_MATCHERS)
    context = b'{"library":{"name":"analytics.js","version":"next-1.84.3"},"ip":"192.0.2.1","page":{"path":"/p"}}'
    assert not red.may_apply(context)
    assert not red.may_apply(b'{"sku":"sku-12","price":12.5,"currency":"USD"}')
    assert red.may_apply(b'{"Credit-Card":"x"}')  # by name, in any spelling
    assert red.may_apply(b'{"note":"4111 1111 1111 1111"}')
    assert red.may_apply(b'{"note":"\\u0034111111111111111"}')  # escapes are looked at


@given(
    st.dictionaries(
        st.sampled_from(["email", "note", "ip", "phone", "ssn", "x", "Card_Number", "name"]),
        st.one_of(
            st.sampled_from([value for _, value, _ in CORPUS if isinstance(value, str)]),
            st.text(max_size=30),
            st.integers(),
        ),
        max_size=5,
    )
)
def test_skipped_parts_are_never_changed_by_the_controls(document: dict[str, Any]) -> None:
    for controls in CONTROLS:
        raw = msgspec.json.encode(document)
        if not Prefilter(controls, DEFAULT_MATCHERS).may_apply(raw):
            walked = {"properties": msgspec.json.decode(raw)}
            changed, blocked = control_fields(
                walked, FieldClassifier(DEFAULT_MATCHERS), controls, b"s"
            )
            assert not changed and blocked is None, (document, controls)
