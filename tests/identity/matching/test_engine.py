"""The matching engine on made-up people: what it proposes, why, and what it refuses."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from seamline.errors import InvalidInput
from seamline.identity.matching.engine import Proposal, TrainedModel, score, train
from tests.identity.matching.people import duplicate, population, with_duplicates

JONATHAN = {
    "profile_id": "jonathan",
    "first_name": "Jonathan",
    "last_name": "Smythe",
    "email": "jonathan.smythe@example.com",
    "phone": "+44 7700 900123",
    "address": "12 Quay Street",
    "city": "Bristol",
    "postcode": "BS1 4DJ",
    "dob": "1984-03-02",
}
# The same person, from a shop's till: the email typed with two letters swapped, no phone.
JONATHAN_AT_THE_TILL = duplicate(
    JONATHAN, "jonathan-till", email="jonathan.smtyhe@example.com", phone=None
)
# Another Jonathan Smythe: same name, another birthday, nothing else in common.
NAMESAKE = {
    "profile_id": "namesake",
    "first_name": "Jonathan",
    "last_name": "Smythe",
    "email": "jsmythe@example.org",
    "phone": "+44 7700 900999",
    "address": "3 Mill Lane",
    "city": "Leeds",
    "postcode": "LS2 7EW",
    "dob": "1961-11-20",
}
RECORDS = [*with_duplicates(240), JONATHAN, JONATHAN_AT_THE_TILL, NAMESAKE]
for _record in RECORDS:
    # What a deterministic rule would know: which profiles are one person (never trained on).
    _record["known_id"] = _record["profile_id"].removesuffix("-again").removesuffix("-till")


@pytest.fixture(scope="module")
def model() -> TrainedModel:
    return train(RECORDS, {})


@pytest.fixture(scope="module")
def proposals(model: TrainedModel) -> dict[tuple[str, str], Proposal]:
    return {(p.left, p.right): p for p in score(model, RECORDS, min_probability=0.01)}


def test_a_typo_in_the_email_still_merges(proposals: dict[tuple[str, str], Proposal]) -> None:
    found = proposals[("jonathan", "jonathan-till")]
    assert found.probability >= 0.99
    email = next(c for c in found.comparisons if c["field"] == "email")
    assert email["left"] == "jonathan.smythe@example.com"
    assert email["right"] == "jonathan.smtyhe@example.com"
    assert email["level"] == "jaro_winkler>=0.88"
    assert email["bayes_factor"] > 1


def test_same_name_another_birthday_is_not_one_person(
    proposals: dict[tuple[str, str], Proposal],
) -> None:
    assert ("jonathan", "namesake") not in proposals
    assert ("jonathan-till", "namesake") not in proposals


def test_the_generated_duplicates_are_found_and_nothing_else(
    proposals: dict[tuple[str, str], Proposal], model: TrainedModel
) -> None:
    merged = {pair for pair, p in proposals.items() if p.probability >= model.config["threshold"]}
    expected = {(f"p{i}", f"p{i}-again") for i in range(0, 240, 3)} | {
        ("jonathan", "jonathan-till")
    }
    assert merged == expected


def test_a_proposal_explains_itself(
    proposals: dict[tuple[str, str], Proposal], model: TrainedModel
) -> None:
    found = proposals[("jonathan", "jonathan-till")]
    assert [c["field"] for c in found.comparisons] == [
        "first_name",
        "last_name",
        "email",
        "phone",
        "address",
        "city",
        "postcode",
        "dob",
    ]
    for comparison in found.comparisons:
        assert set(comparison) == {"field", "left", "right", "level", "bayes_factor"}
    by_field = {c["field"]: c for c in found.comparisons}
    assert by_field["phone"]["level"] == "null" and by_field["phone"]["bayes_factor"] == 1
    assert by_field["dob"] == {
        "field": "dob",
        "left": "19840302",
        "right": "19840302",
        "level": "exact",
        "bayes_factor": by_field["dob"]["bayes_factor"],
    }
    # The factors are the whole story: prior odds times their product give the probability.
    prior = model.splink_settings["probability_two_random_records_match"]
    odds = prior / (1 - prior) * math.prod(c["bayes_factor"] for c in found.comparisons)
    assert odds / (1 + odds) == pytest.approx(found.probability, rel=1e-4)


def test_scores_are_ordered_and_above_the_floor(model: TrainedModel) -> None:
    found = score(model, RECORDS)
    floor = model.config["review_threshold"]
    assert found and all(p.probability >= floor for p in found)
    assert [p.probability for p in found] == sorted((p.probability for p in found), reverse=True)
    assert all(p.left < p.right for p in found)


def test_a_model_survives_json(
    model: TrainedModel, proposals: dict[tuple[str, str], Proposal]
) -> None:
    again = TrainedModel(**json.loads(json.dumps(model._asdict())))
    found = score(again, RECORDS, min_probability=0.01)
    assert {(p.left, p.right): p for p in found} == proposals


def test_known_links_check_the_model(model: TrainedModel) -> None:
    assert model.check == {"known_pairs": 81, "found": 81, "recall": 1.0}


def test_a_blocking_rule_that_would_explode_is_refused() -> None:
    people = population(60)
    for person in people:
        person["country"] = "uk"
    config = {"blocking_rules": [{"equal": ["email"]}, {"equal": ["country"]}], "max_pairs": 1000}
    with pytest.raises(InvalidInput, match=r"blocking_rules\[1\].*1,770 pairs") as refused:
        train(people, config)
    assert refused.value.details == {"rule": 1, "pairs": 1770, "max_pairs": 1000}


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ([{"first_name": "a"}], "no profile_id"),
        ([{"profile_id": "a"}, {"profile_id": "a"}], "appears more than once"),
        (["not a record"], "not a mapping"),
        ([{"profile_id": str(i)} for i in range(11)], "more than max_records"),
    ],
)
def test_bad_records_are_refused(records: list[Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        train(records, {"max_records": 10})


def test_linking_needs_two_sources() -> None:
    with pytest.raises(InvalidInput, match="two sources"):
        train(population(20), {}, link_only=True)
