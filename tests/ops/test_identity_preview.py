"""Previewing new identity rules replays history into a throwaway graph and counts the live
people they would merge or split, keeping unmerges apart, and changes nothing live."""

from __future__ import annotations

from pathlib import Path

from seamline.config import Settings
from seamline.data_dir import open_state
from seamline.ops.identity_preview import preview, preview_rules
from tests.ops.identity_history import NEW_DOCUMENT, NEW_RULES, people, separate, served


def test_a_preview_counts_the_merges_and_splits_the_new_rules_make(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    served(settings)
    engine = open_state(settings)
    try:
        kept_apart = separate(engine, "m8")
        before = people(engine)
        seen: list[str] = []
        found = preview(settings, NEW_DOCUMENT, lambda phase, _d, _t: seen.append(phase))
        assert people(engine) == before  # nothing live changed
    finally:
        engine.dispose()
    # Live: {a1 a2 e1 e2}, {b1}, {b2}, {c1 d1}, {c2 d2}; new: a1/e1 and a2/e2 apart,
    # b1 and b2 joined by C1, and the unmerged c's still apart.
    assert (found.profiles_before, found.profiles_after) == (5, 5)
    assert (found.merges, found.splits) == (1, 1)
    [merge] = [e for e in found.examples if e["kind"] == "merge"]
    assert len(merge["profiles"]) == 2
    assert set(merge["identifiers"]) == {
        "anonymous_id:b1",
        "anonymous_id:b2",
        "customer_number:C1",
    }
    [split] = [e for e in found.examples if e["kind"] == "split"]
    assert set(split["identifiers"]) == {
        "anonymous_id:a1",
        "anonymous_id:a2",
        "email:e1@x.io",
        "email:e2@x.io",
    }
    assert not set(split["profiles"]) & set(kept_apart)
    assert {"replay", "compare"} <= set(seen)


def test_a_preview_of_the_rules_in_force_changes_no_one(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    served(settings)
    found = preview_rules(settings, NEW_RULES.__class__())
    assert (found.merges, found.splits, found.examples) == (0, 0, [])
    assert found.profiles_before == found.profiles_after == 4  # no unmerge here
