"""Records going into the matching engine: checked, bounded and normalised per comparison kind.

A record is a dict with `profile_id` plus any fields the config names; other keys are ignored.
Normalising here (lower case, trimmed, digits only for phones and dates) means two values that
differ only in how they were written agree exactly, so Splink's levels see real differences.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from seamline.errors import InvalidInput
from seamline.identity.matching.config import fields_of, part_field

MAX_FIELD_CHARS = 200
"""Longer values are cut: no name, email or address needs more, and it bounds the string
distances Splink computes (quadratic in length)."""
MAX_PROFILE_ID_CHARS = 200

_SPACES = re.compile(r"\s+")
_NOT_DIGITS = re.compile(r"[^0-9]")


class Prepared(NamedTuple):
    """Records as columns: `unique_id` is the record's index, `profile_ids[unique_id]` its id."""

    profile_ids: list[str]
    columns: dict[str, list[str | None]]
    sources: list[str | None]


def prepare(records: Iterable[Mapping[str, Any]], config: Mapping[str, Any]) -> Prepared:
    """Check and normalise `records` for a normalised config; raise `InvalidInput` when a record
    has no usable `profile_id`, an id repeats, or there are more than `max_records`."""
    kinds = {spec["field"]: spec["kind"] for spec in config["comparisons"]}
    fields = fields_of(config)
    limit = config["max_records"]
    profile_ids: list[str] = []
    columns: dict[str, list[str | None]] = {field: [] for field in fields}
    sources: list[str | None] = []
    for index, record in enumerate(records):
        if index >= limit:
            raise InvalidInput(f"matching: more than max_records ({limit}) records")
        if not isinstance(record, Mapping):
            raise InvalidInput(f"matching: record {index} is not a mapping")
        profile_id = record.get("profile_id")
        if not isinstance(profile_id, str) or not 0 < len(profile_id) <= MAX_PROFILE_ID_CHARS:
            raise InvalidInput(f"matching: record {index} has no profile_id (a short string)")
        profile_ids.append(profile_id)
        for field in fields:
            columns[field].append(normalise(record.get(field), kinds.get(field, "text")))
        source = record.get("source")
        sources.append(None if source is None else str(source)[:MAX_PROFILE_ID_CHARS])
    repeated = [pid for pid, count in Counter(profile_ids).items() if count > 1]
    if repeated:
        raise InvalidInput(f"matching: profile_id {repeated[0]!r} appears more than once")
    return Prepared(profile_ids, columns, sources)


def normalise(value: Any, kind: str) -> str | None:
    """One value as the comparisons of `kind` read it; None when there is nothing to compare."""
    if value is None or isinstance(value, bool | Mapping | list | tuple):
        return None
    text = _SPACES.sub(" ", str(value)).strip().lower()[:MAX_FIELD_CHARS]
    if kind == "phone":
        text = _NOT_DIGITS.sub("", text)
        # Fewer digits than any real number: an extension or a placeholder, not evidence.
        return text if len(text) >= 6 else None
    if kind == "date":
        # An ISO timestamp's time of day is not part of a date of birth.
        return _NOT_DIGITS.sub("", text.split("t", 1)[0]) or None
    if kind == "postcode":
        text = text.replace(" ", "")
    return text or None


def arrow_table(prepared: Prepared, rows: Sequence[int] | None = None) -> Any:
    """The prepared records (all of them, or those `rows`) as a pyarrow table for Splink."""
    import pyarrow as pa

    picked = range(len(prepared.profile_ids)) if rows is None else rows
    data: dict[str, Any] = {"unique_id": pa.array(list(picked), type=pa.int64())}
    for field, values in prepared.columns.items():
        data[field] = pa.array([values[row] for row in picked], type=pa.string())
    return pa.table(data)


def pairs_per_rule(prepared: Prepared, config: Mapping[str, Any], *, link_only: bool) -> list[int]:
    """How many pairs each blocking rule makes on these records (before rules overlap).

    Counted from block sizes in Python, so a rule that would explode is measured without
    building a single pair: n(n-1)/2 per block, or n_left * n_right per block when linking.
    """
    counts: list[int] = []
    for rule in config["blocking_rules"]:
        parts = [(part_field(part), _prefix(part)) for part in rule["equal"]]
        blocks: Counter[tuple[Any, ...]] = Counter()
        for row in range(len(prepared.profile_ids)):
            key = []
            for field, prefix in parts:
                value = prepared.columns[field][row]
                if value is None:
                    break
                key.append(value[:prefix] if prefix else value)
            else:
                side = prepared.sources[row] if link_only else None
                blocks[(side, *key)] += 1
        counts.append(_pairs(blocks, link_only=link_only))
    return counts


def _prefix(part: str | Mapping[str, Any]) -> int | None:
    return None if isinstance(part, str) else part["prefix"]


def _pairs(blocks: Counter[tuple[Any, ...]], *, link_only: bool) -> int:
    if not link_only:
        return sum(n * (n - 1) // 2 for n in blocks.values())
    by_key: dict[tuple[Any, ...], list[int]] = {}
    for (_side, *key), n in blocks.items():
        by_key.setdefault(tuple(key), []).append(n)
    total = 0
    for sizes in by_key.values():
        # Pairs across different sources only: all pairs minus those within one source.
        total += (sum(sizes) ** 2 - sum(n * n for n in sizes)) // 2
    return total
