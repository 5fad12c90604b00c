"""Hypothesis: random definitions over random histories, fed in random batches to the real-time
engine, give every profile the same values as the batch engine over the stored history."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seamline.engage.definition import parse_audience, parse_trait
from tests.engage.harness import Harness, group, identify, rules_of, track

EVENTS = ["A", "B", "C"]
CATEGORIES = ["x", "y", "z"]
WINDOWS = [None, "1d", "3d", "7d"]

windows = st.sampled_from(WINDOWS)
where = st.one_of(
    st.just(None),
    st.builds(lambda v: [{"property": "amount", "op": ">", "value": v}], st.integers(0, 5)),
    st.builds(
        lambda v: [{"property": "category", "op": "=", "value": v}], st.sampled_from(CATEGORIES)
    ),
    st.builds(
        lambda v: [{"property": "category", "op": "!=", "value": v}], st.sampled_from(CATEGORIES)
    ),
)


@st.composite
def traits(draw: Any) -> dict[str, Any]:
    kind = draw(
        st.sampled_from(
            [
                "event_counter",
                "aggregation",
                "most_frequent",
                "first",
                "last",
                "unique_list",
                "unique_list_count",
            ]
        )
    )
    doc: dict[str, Any] = {"kind": kind, "event": draw(st.sampled_from(EVENTS))}
    if (w := draw(windows)) is not None:
        doc["window"] = w
    if (filters := draw(where)) is not None:
        doc["where"] = filters
    if kind == "aggregation":
        doc.update(property="amount", function=draw(st.sampled_from(["sum", "avg", "min", "max"])))
    elif kind != "event_counter":
        numeric = draw(st.booleans())
        doc.update(
            property="amount" if numeric else "category",
            value_type="number" if numeric else "string",
        )
    return doc


def leaf(computed: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    performed = st.builds(
        lambda e, n, op, w, f: {
            "performed": {
                "event": e,
                op: n,
                **({"within": w} if w else {}),
                **({"where": f} if f else {}),
            }
        },
        st.sampled_from(EVENTS),
        st.integers(0, 3),
        st.sampled_from(["at_least", "at_most", "exactly"]),
        windows,
        where,
    )
    trait = st.one_of(
        st.builds(
            lambda v: {"trait": {"name": "plan", "value": v}}, st.sampled_from(["free", "pro"])
        ),
        st.builds(lambda v: {"trait": {"name": "age", "op": ">", "value": v}}, st.integers(18, 60)),
        st.just({"trait": {"name": "plan", "op": "exists"}}),
        st.builds(
            lambda v: {"account": {"name": "tier", "value": v}}, st.sampled_from(["gold", "silver"])
        ),
    )
    sequence = st.builds(
        lambda steps, within, during: {
            "sequence": {"steps": steps, "within": within, **({"during": during} if during else {})}
        },
        st.lists(st.sampled_from(EVENTS), min_size=2, max_size=3),
        st.sampled_from(["1h", "1d", "3d"]),
        windows,
    )
    options = [performed, trait, sequence]
    if computed:
        options.append(
            st.builds(
                lambda k, v: {"trait": {"name": k, "op": ">=", "value": v}},
                st.sampled_from(computed),
                st.integers(0, 3),
            )
        )
        options.append(
            st.builds(lambda k: {"trait": {"name": k, "op": "exists"}}, st.sampled_from(computed))
        )
    return st.one_of(*options)


def condition(computed: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.recursive(
        leaf(computed),
        lambda inner: st.one_of(
            st.builds(lambda parts: {"all": parts}, st.lists(inner, min_size=1, max_size=3)),
            st.builds(lambda parts: {"any": parts}, st.lists(inner, min_size=1, max_size=3)),
            st.builds(lambda part: {"not": part}, inner),
        ),
        max_leaves=4,
    )


def message() -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    profile = st.sampled_from(["p1", "p2", "p3", "p4"])
    days = st.integers(0, 24 * 10).map(lambda hours: hours / 24 + 0.001)
    props = st.fixed_dictionaries(
        {},
        optional={
            "amount": st.one_of(
                st.integers(0, 6), st.floats(0, 6).map(lambda f: round(f, 2)), st.just("7")
            ),
            "category": st.sampled_from([*CATEGORIES, 3]),
        },
    )
    kinds = st.one_of(
        st.builds(lambda e, d, p: track(e, d, **p), st.sampled_from(EVENTS), days, props),
        st.builds(
            lambda d, plan, age: identify(d, plan=plan, age=age),
            days,
            st.sampled_from(["free", "pro", None]),
            st.integers(10, 70),
        ),
        st.builds(
            lambda g, d, tier: group(g, d, tier=tier),
            st.sampled_from(["g1", "g2"]),
            days,
            st.sampled_from(["gold", "silver"]),
        ),
    )
    return st.tuples(profile, kinds)


@st.composite
def scenarios(draw: Any) -> tuple[list[Any], list[Any], list[list[Any]], bool]:
    trait_docs = draw(st.lists(traits(), min_size=0, max_size=3))
    trait_defs = [parse_trait(f"t{i}", doc) for i, doc in enumerate(trait_docs)]
    numeric = [
        t.key for t in trait_defs if t.kind in ("event_counter", "aggregation", "unique_list_count")
    ]
    audiences = []
    for i in range(draw(st.integers(1, 3))):
        doc = draw(condition(numeric))
        if i > 0 and draw(st.booleans()):
            doc = {"any": [doc, {"audience": f"a{i - 1}"}]}
        audiences.append(parse_audience(f"a{i}", {"condition": doc}))
    history = draw(st.lists(message(), min_size=1, max_size=30))
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(history) - 1)), max_size=3)))
    batches = [
        history[a:b] for a, b in zip([0, *cuts], [*cuts, len(history)], strict=True) if history[a:b]
    ]
    return trait_defs, audiences, batches, draw(st.booleans())


def same(a: Any, b: Any) -> bool:
    a_empty, b_empty = a is None or a is False, b is None or b is False  # 0 is a value
    if a_empty or b_empty:
        return a_empty and b_empty
    if isinstance(a, float) or isinstance(b, float):
        return (
            isinstance(a, int | float)
            and isinstance(b, int | float)
            and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
        )
    return bool(a == b)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenarios())
def test_real_time_and_batch_agree_on_every_profile(
    scenario: tuple[list[Any], list[Any], list[list[Any]], bool],
) -> None:
    trait_defs, audiences, batches, merge = scenario
    rules = rules_of(trait_defs, audiences)
    with tempfile.TemporaryDirectory() as root:
        harness = Harness(Path(root))
        try:
            for index, batch in enumerate(batches):
                harness.feed(rules, batch)
                if merge and index == 0 and {"p1", "p2"} <= harness.known:
                    # As the pipeline does it: the merge, then the message that caused it.
                    harness.merge("p2", into="p1")
                    harness.feed(
                        rules, [("p1", {"type": "alias", "timestamp": "2026-06-01T11:00:00Z"})]
                    )
            realtime = harness.realtime(rules)
            batch_values = harness.batch(rules)
            assert set(realtime) == set(batch_values)
            for pid, values in realtime.items():
                for key, value in values.items():
                    assert same(value, batch_values[pid][key]), (
                        pid,
                        key,
                        value,
                        batch_values[pid][key],
                    )
        finally:
            harness.close()
