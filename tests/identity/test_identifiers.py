"""Which identifiers a message carries, normalised and filtered."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from seamline.identity.identifiers import Identifier, identifiers_of, normalise
from seamline.identity.rules import CUSTOM_RULE, IdentifierRule, IdentityRules
from seamline.spec import Message

RULES = IdentityRules()


def message(**fields: Any) -> Message:
    raw = {
        k: msgspec.Raw(msgspec.json.encode(v))
        for k, v in fields.items()
        if k in ("traits", "context", "properties")
    }
    plain = {k: v for k, v in fields.items() if k not in raw}
    return Message(**plain, **raw)


CASES = [
    (
        "userId and anonymousId",
        message(type="track", user_id="u1", anonymous_id="a1", event="E"),
        ["user_id:u1", "anonymous_id:a1"],
    ),
    (
        "identify traits give email and phone",
        message(
            type="identify",
            user_id="u1",
            traits={"email": " Ann@Example.COM ", "phone": "+31 (6) 1234-5678"},
        ),
        ["user_id:u1", "email:ann@example.com", "phone:+31612345678"],
    ),
    (
        "context.traits.email on any call",
        message(type="page", anonymous_id="a", context={"traits": {"email": "b@x.io"}}),
        ["email:b@x.io", "anonymous_id:a"],
    ),
    (
        "properties.email on track",
        message(type="track", anonymous_id="a", event="E", properties={"email": "c@x.io"}),
        ["email:c@x.io", "anonymous_id:a"],
    ),
    (
        "the all-zero advertising id of a device that limits ad tracking is blocked",
        message(
            type="screen",
            anonymous_id="a",
            context={
                "device": {
                    "advertisingId": "00000000-0000-0000-0000-000000000000",
                    "adTrackingEnabled": True,
                    "type": "android",
                }
            },
        ),
        ["anonymous_id:a"],
    ),
    (
        "properties.phone on track",
        message(type="track", anonymous_id="a", event="E", properties={"phone": "555-0100-99"}),
        ["anonymous_id:a", "phone:555010099"],
    ),
    (
        "traits on track are not identity",
        message(type="track", anonymous_id="a", event="E", traits={"email": "d@x.io"}),
        ["anonymous_id:a"],
    ),
    (
        "ios device ids: the ad id only when ad tracking is enabled",
        message(
            type="screen",
            anonymous_id="a",
            context={
                "device": {
                    "id": "D1",
                    "advertisingId": "IDFA1",
                    "adTrackingEnabled": True,
                    "type": "ios",
                }
            },
        ),
        ["anonymous_id:a", "ios.id:D1", "ios.idfa:IDFA1"],
    ),
    (
        "no ad id when the device does not say ad tracking is enabled",
        message(
            type="screen",
            anonymous_id="a",
            context={"device": {"id": "D1", "advertisingId": "IDFA1", "type": "iOS"}},
        ),
        ["anonymous_id:a", "ios.id:D1"],
    ),
    (
        "a push token follows the device type",
        message(
            type="screen",
            anonymous_id="a",
            context={"device": {"token": "tok-1", "type": "android"}},
        ),
        ["android.push_token:tok-1", "anonymous_id:a"],
    ),
    (
        "a push token of an unknown device type is no identifier",
        message(type="screen", anonymous_id="a", context={"device": {"token": "tok-1"}}),
        ["anonymous_id:a"],
    ),
    (
        "the Google Analytics client id from context.integrations",
        message(
            type="page",
            anonymous_id="a",
            context={"integrations": {"Google Analytics": {"clientId": "GA1.2.33.44"}}},
        ),
        ["anonymous_id:a", "ga_client_id:GA1.2.33.44"],
    ),
    (
        "an integrations flag instead of options costs only the GA client id",
        message(
            type="page",
            anonymous_id="a",
            context={
                "integrations": {"Google Analytics": True},
                "traits": {"email": "f@x.io"},
            },
        ),
        ["email:f@x.io", "anonymous_id:a"],
    ),
    (
        "no ad id when tracking is off",
        message(
            type="screen",
            anonymous_id="a",
            context={
                "device": {
                    "id": "D1",
                    "advertisingId": "X",
                    "adTrackingEnabled": False,
                    "type": "android",
                }
            },
        ),
        ["android.id:D1", "anonymous_id:a"],
    ),
    (
        "unknown device type",
        message(type="screen", anonymous_id="a", context={"device": {"id": "D9"}}),
        ["anonymous_id:a", "device_id:D9"],
    ),
    (
        "externalIds",
        message(
            type="identify",
            user_id="u",
            context={
                "externalIds": [
                    {
                        "id": "cus_1",
                        "type": "stripe_customer_id",
                        "collection": "users",
                        "encoding": "none",
                    }
                ]
            },
        ),
        ["user_id:u", "stripe_customer_id:cus_1"],
    ),
    (
        "custom types follow the built-in ones, alphabetically",
        message(
            type="track",
            event="E",
            anonymous_id="a",
            context={
                "externalIds": [
                    {"id": "z1", "type": "zeta_id"},
                    {"id": "b1", "type": "beta_id"},
                    {"id": "a1", "type": "alpha_id"},
                ],
                "traits": {"phone": "+15550100"},
            },
        ),
        ["anonymous_id:a", "phone:+15550100", "alpha_id:a1", "beta_id:b1", "zeta_id:z1"],
    ),
    (
        "blocked values are dropped",
        message(
            type="identify", user_id="null", anonymous_id="undefined", traits={"email": "e@x.io"}
        ),
        ["email:e@x.io"],
    ),
    (
        "alias previousId is linked",
        message(type="alias", user_id="u", previous_id="a0"),
        ["user_id:u", "anonymous_id:a0"],
    ),
    (
        "invalid email and phone are ignored",
        message(type="identify", user_id="u", traits={"email": "not-an-email", "phone": "call me"}),
        ["user_id:u"],
    ),
    (
        "a context that is not the expected shape is ignored",
        message(type="page", anonymous_id="a", context={"device": "phone", "traits": 3}),
        ["anonymous_id:a"],
    ),
]


@pytest.mark.parametrize(("_story", "msg", "expected"), CASES)
def test_identifiers_of(_story: str, msg: Message, expected: list[str]) -> None:
    assert [str(i) for i in identifiers_of(msg, RULES)] == expected


def test_a_custom_type_with_a_priority_of_its_own_keeps_it() -> None:
    rules = IdentityRules(
        {"user_id": IdentifierRule(priority=1, limit=1), "zeta_id": IdentifierRule(priority=2)}
    )
    msg = message(
        type="identify",
        user_id="u",
        anonymous_id="a",
        context={"externalIds": [{"id": "b1", "type": "beta_id"}, {"id": "z1", "type": "zeta_id"}]},
    )
    found = [str(i) for i in identifiers_of(msg, rules)]
    assert found == ["user_id:u", "zeta_id:z1", "anonymous_id:a", "beta_id:b1"]
    assert rules.priority("beta_id") == rules.priority("anonymous_id") == CUSTOM_RULE.priority


def test_a_custom_type_given_only_a_limit_still_ranks_alphabetically_after_built_ins() -> None:
    from seamline.identity.rules_document import rules_from_document

    rules = rules_from_document({"types": {"alpha_id": {"limit": 1}}})
    msg = message(
        type="track",
        event="E",
        anonymous_id="a",
        context={
            "externalIds": [{"id": "z1", "type": "zeta_id"}, {"id": "a1", "type": "alpha_id"}]
        },
    )
    assert [str(i) for i in identifiers_of(msg, rules)] == [
        "anonymous_id:a",
        "alpha_id:a1",
        "zeta_id:z1",
    ]


def test_a_phone_matches_normalised_and_remembers_how_it_was_sent() -> None:
    msg = message(type="identify", user_id="u", traits={"phone": " +1 (555) 010-0199"})
    phone = identifiers_of(msg, RULES)[1]
    assert phone == Identifier("phone", "+15550100199")
    assert hash(phone) == hash(Identifier("phone", "+15550100199"))
    assert phone.sent == "+1 (555) 010-0199"
    assert Identifier("phone", "+15550100199").sent == "+15550100199"


def test_custom_blocked_values_and_patterns() -> None:
    rules = IdentityRules(
        blocked_values=["test@test.com"], blocked_patterns=[r".*@example\.invalid"]
    )
    msg = message(
        type="identify",
        user_id="u",
        traits={"email": "TEST@test.com"},
        context={"traits": {"email": "x@example.invalid"}},
    )
    assert identifiers_of(msg, rules) == [Identifier("user_id", "u")]


@pytest.mark.parametrize(
    ("id_type", "raw", "expected"),
    [
        ("user_id", 42, "42"),
        ("user_id", True, None),
        ("user_id", "  ", None),
        ("phone", "0031 6 1234 5678", "+31612345678"),
        ("email", ["a@b"], None),
    ],
)
def test_normalise(id_type: str, raw: Any, expected: str | None) -> None:
    assert normalise(id_type, raw) == expected


def test_custom_identifiers_and_rules_come_from_settings(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from seamline.app import identity_rules
    from seamline.config import load_settings

    (tmp_path / "seamline.toml").write_text(
        'identity_blocked_patterns = ["^test.*"]\n\n'
        "[identity_types.phone]\npriority = 3\nlimit = 1\n\n"
        '[[identity_custom_identifiers]]\nname = "customer_number"\npath = "properties.account.number"\n'
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SEAMLINE_CONFIG", raising=False)
    rules = identity_rules(load_settings())
    assert rules.rule("phone").limit == 1 and rules.priority("phone") == 3
    assert rules.is_blocked("testing-user") and not rules.is_blocked("real-user")
    msg = message(type="track", user_id="u", event="E", properties={"account": {"number": 12345}})
    assert [str(i) for i in identifiers_of(msg, rules)] == ["user_id:u", "customer_number:12345"]


def test_a_bad_custom_identifier_path_is_refused() -> None:
    from pydantic import ValidationError

    from seamline.config import Settings

    with pytest.raises(ValidationError):
        Settings(identity_custom_identifiers=[{"name": "x", "path": "somewhere.else"}])  # type: ignore[list-item]
