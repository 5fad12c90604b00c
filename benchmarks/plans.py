"""Tracking-plan checks per second: valid and invalid messages, naming rules.

    .venv/bin/python benchmarks/plans.py [--seconds S]

One process, stdlib timing (`time.perf_counter_ns` over repeated batches, best batch kept).
The plan has an `Order Completed` rule with six properties and a common rule on `context`.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from seamline.protocols.naming import Case, NamingRules
from seamline.protocols.plan import load_plan
from seamline.protocols.validate import CompiledPlan

PLAN = {
    "name": "Benchmark",
    "events": {
        "Order Completed": {
            "properties": {
                "order_id": {"type": "string", "required": True},
                "total": {"type": "number", "minimum": 0, "required": True},
                "currency": {"type": "string", "enum": ["USD", "EUR"], "required": True},
                "coupon": ["string", "null"],
                "email": {"type": "string", "format": "email"},
                "products": {
                    "type": "array",
                    "items": {"properties": {"sku": {"type": "string", "required": True}}},
                },
            },
        },
    },
    "common": {"context": {"library": {"type": "object", "required": True}}},
}
CONTEXT = {"library": {"name": "analytics.js", "version": "2.1.0"}}
VALID: dict[str, Any] = {
    "type": "track",
    "event": "Order Completed",
    "properties": {
        "order_id": "o-1001",
        "total": 42.5,
        "currency": "USD",
        "coupon": None,
        "email": "ann@example.com",
        "products": [{"sku": "A-1"}, {"sku": "B-2"}],
    },
    "context": CONTEXT,
}
INVALID: dict[str, Any] = {  # three violations: a type, an enum value and a nested required sku
    **VALID,
    "properties": {**VALID["properties"], "total": "42.5", "currency": "GBP", "products": [{}]},
}
UNPLANNED_EVENT = {"type": "track", "event": "Cart Viewed", "properties": {}, "context": CONTEXT}
EXTRA_PROPERTIES = {**VALID, "properties": {**VALID["properties"], "gift": True, "note": "x"}}


def rate(call: Callable[[], Any], seconds: float) -> tuple[float, float]:
    """(calls per second, µs per call) of the fastest of several batches."""
    batch = 1000
    best = float("inf")
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter_ns()
        for _ in range(batch):
            call()
        best = min(best, (time.perf_counter_ns() - start) / batch)
    return 1e9 / best, best / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per row")
    args = parser.parse_args()
    plan = CompiledPlan(load_plan(PLAN))
    naming = NamingRules(events=Case.OBJECT_ACTION, properties=Case.SNAKE_CASE)
    rows: list[tuple[str, Callable[[], Any]]] = [
        ("check: valid, 6 properties", lambda: plan.check(VALID)),
        ("check: 2 unplanned properties", lambda: plan.check(EXTRA_PROPERTIES)),
        ("check: unplanned event", lambda: plan.check(UNPLANNED_EVENT)),
        ("check: invalid, 3 violations", lambda: plan.check(INVALID)),
        ("naming: flag, all conforming", lambda: naming.check(VALID)),
    ]
    assert plan.check(VALID).valid and len(plan.check(INVALID).violations) == 3
    print(f"{'case':<32} {'checks/s':>12} {'µs/check':>9}")
    for name, call in rows:
        per_second, micros = rate(call, args.seconds)
        print(f"{name:<32} {per_second:>12,.0f} {micros:>9.2f}")


if __name__ == "__main__":
    main()
