"""The `matching:` block: defaults, canonical form, and every way it is refused."""

from __future__ import annotations

from typing import Any

import pytest

from seamline.errors import InvalidInput
from seamline.identity.matching.config import (
    DEFAULT_FIELDS,
    default_matching,
    fields_of,
    normalise_matching,
)


def test_nothing_given_means_the_defaults() -> None:
    config = normalise_matching(None)
    assert config == default_matching() == normalise_matching({})
    assert config["enabled"] is False
    assert (config["threshold"], config["review_threshold"]) == (0.99, 0.8)
    assert fields_of(config) == list(DEFAULT_FIELDS)


def test_the_canonical_form_is_a_fixed_point() -> None:
    config = normalise_matching(
        {
            "enabled": True,
            "threshold": 0.95,
            "review_threshold": 0.7,
            "blocking_rules": [{"equal": ["email"]}, {"equal": [{"field": "dob", "prefix": 4}]}],
            "comparisons": [{"field": "email", "kind": "email"}, {"field": "dob", "kind": "date"}],
            "max_pairs": 1000,
        }
    )
    assert config["comparisons"] == [
        {"field": "email", "kind": "email", "term_frequency": False},
        {"field": "dob", "kind": "date", "term_frequency": False},
    ]
    assert config["blocking_rules"] == [
        {"equal": ["email"]},
        {"equal": [{"field": "dob", "prefix": 4}]},
    ]
    assert normalise_matching(config) == config


def test_the_contracts_string_rules_become_structured() -> None:
    config = normalise_matching(
        {"blocking_rules": ["l.email = r.email", "l.last_name=r.last_name AND l.dob = r.dob"]}
    )
    assert config["blocking_rules"] == [{"equal": ["email"]}, {"equal": ["last_name", "dob"]}]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "must be a mapping"),
        ({"treshold": 0.9}, "unknown key 'treshold'"),
        ({"enabled": "yes"}, "enabled must be true or false"),
        ({"threshold": 1.5}, r"threshold must be a number in \(0, 1\]"),
        ({"threshold": True}, "threshold must be a number"),
        ({"threshold": 0.7, "review_threshold": 0.8}, "must not be above"),
        ({"max_pairs": 0}, "max_pairs must be a whole number"),
        ({"max_records": 10**9}, "max_records must be a whole number from 1 to 5000000"),
        ({"comparisons": []}, "comparisons must be a list of 1 to 30"),
        ({"comparisons": [{"field": "email", "kind": "soundex"}]}, "kind 'soundex' is not one"),
        ({"comparisons": [{"field": "email", "sql": "1=1"}]}, "unknown key 'sql'"),
        ({"comparisons": [{"field": "e; drop table x", "kind": "email"}]}, "must be a lower-case"),
        ({"comparisons": [{"field": "profile_id", "kind": "exact"}]}, "must be a lower-case"),
        ({"comparisons": [{"field": "email"}, {"field": "email"}]}, "compared once"),
        ({"blocking_rules": ["l.email = r.email or 1 = 1"]}, "is not of the form"),
        ({"blocking_rules": ["l.email = r.phone"]}, "is not of the form"),
        ({"blocking_rules": ["levenshtein(l.email, r.email) < 2"]}, "is not of the form"),
        ({"blocking_rules": [{"equal": []}]}, "must list 1 to 6 fields"),
        ({"blocking_rules": [{"equal": ["email"], "or": ["phone"]}]}, "must be a mapping like"),
        ({"blocking_rules": [{"equal": [{"field": "dob", "prefix": 0}]}]}, "prefix must be"),
        ({"blocking_rules": [{"equal": ["Email"]}]}, "must be a lower-case"),
    ],
)
def test_bad_config_is_refused(value: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        normalise_matching(value)
