"""How fast compiled mappings turn one event into a payload, and what validating it adds.

    .venv/bin/python benchmarks/mapping.py

Each row is the best of five timeit runs on a typical Order Completed event (the figure
includes the cost of the call itself), plus the one-off cost of compiling the mapping. The
target is 50,000 mapped events per second per core for a six-field mapping.
"""

from __future__ import annotations

import timeit
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from seamline.destinations.definition import Field
from seamline.destinations.mapping import compile_mapping, validate_payload

EVENT: dict[str, Any] = {
    "type": "track",
    "event": "Order Completed",
    "userId": "u-123",
    "anonymousId": "a-456",
    "messageId": "m-789",
    "timestamp": datetime(2024, 5, 1, 12, 30, tzinfo=UTC),
    "properties": {
        "order_id": "o-1",
        "total": 129.5,
        "currency": "EUR",
        "coupon": None,
        "products": [
            {"product_id": "p1", "name": "Sweater", "price": 59.5, "quantity": 1},
            {"product_id": "p2", "name": "Scarf", "price": 35, "quantity": 2},
            {"product_id": "p3", "name": "Hat", "price": 0, "quantity": 1},
        ],
    },
    "context": {
        "ip": "203.0.113.9",
        "library": {"name": "analytics.js", "version": "2.11.1"},
        "traits": {"email": "Ada@Example.com", "first_name": "Ada", "last_name": "Lovelace"},
    },
}
SIX_PATHS = {
    "user_id": {"@path": "$.userId"},
    "event_name": {"@path": "$.event"},
    "email": {"@path": "$.context.traits.email"},
    "revenue": {"@path": "$.properties.total"},
    "currency": {"@path": "$.properties.currency"},
    "time": {"@path": "$.timestamp"},
}
TYPICAL = {
    "user_id": {
        "@if": {
            "exists": {"@path": "$.userId"},
            "then": {"@path": "$.userId"},
            "else": {"@path": "$.anonymousId"},
        }
    },
    "event_name": {"@path": "$.event"},
    "email": {"@case": {"operator": "lower", "value": {"@path": "$.context.traits.email"}}},
    "name": {"@template": "{{context.traits.first_name}} {{context.traits.last_name}}"},
    "revenue": {"@path": "$.properties.total"},
    "time": {"@path": "$.timestamp"},
}
PRODUCTS = {
    "order_id": {"@path": "$.properties.order_id"},
    "products": {
        "@arrayPath": [
            "$.properties.products",
            {
                "id": {"@path": "$.product_id"},
                "price": {"@path": "$.price"},
                "quantity": {"@path": "$.quantity"},
            },
        ]
    },
}
EVERY_DIRECTIVE = {
    **TYPICAL,
    "coupon": {"@replace": {"pattern": "-", "replacement": "_", "value": {"@path": "$.event"}}},
    "context": {"@json": {"mode": "encode", "value": {"@path": "$.context.library"}}},
    "source": {"@literal": "web"},
    "whole_properties": {"@path": "$.properties"},
}
OBJECTS = {
    "traits": {
        "@merge": {
            "direction": "right",
            "objects": [{"source": "web"}, {"@excludeWhenNull": {"@path": "$.context.traits"}}],
        }
    },
    "flat": {"@flatten": {"value": {"@path": "$.properties"}, "separator": "_"}},
}
LIQUID = {
    "greeting": {
        "@liquid": "{% if context.traits.first_name %}Hi {{ context.traits.first_name"
        " | capitalize }}{% else %}Hello{% endif %}, {{ properties.total | round }} EUR"
    },
}
FIELDS = {
    "user_id": Field("User ID", "", "string", required=True),
    "event_name": Field("Event", "", "string", required=True),
    "email": Field("Email", "", "string"),
    "name": Field("Name", "", "string"),
    "revenue": Field("Revenue", "", "number"),
    "time": Field("Time", "", "datetime"),
}
CASES: list[tuple[str, dict[str, Any], bool]] = [
    ("6 fields, @path only", SIX_PATHS, False),
    ("6 fields, typical (@if, @case, @template)", TYPICAL, False),
    ("6 fields, typical + validate_payload", TYPICAL, True),
    ("@arrayPath, 3 products x 3 fields", PRODUCTS, False),
    ("every directive, 10 fields", EVERY_DIRECTIVE, False),
    ("@merge/@excludeWhenNull + @flatten", OBJECTS, False),
    ("@liquid, one if and two filters", LIQUID, False),
]


def _best(call: Callable[[], object], repeat: int = 5) -> float:
    timer = timeit.Timer(call)
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=repeat, number=number)) / number


def measure(mapping: dict[str, Any], validate: bool) -> tuple[float, float]:
    """Nanoseconds per mapped event and microseconds per compile."""
    mapper = compile_mapping(mapping)
    if validate:
        per_event = _best(lambda: validate_payload(mapper(EVENT), FIELDS))
    else:
        per_event = _best(lambda: mapper(EVENT))
    per_compile = _best(lambda: compile_mapping(mapping), repeat=3)
    return per_event * 1e9, per_compile * 1e6


def main() -> None:
    """Print one row per mapping: time per event, events per second, compile time."""
    width = max(len(name) for name, _, _ in CASES)
    print(f"{'mapping':<{width}}  {'ns/event':>8}  {'events/s':>11}  {'compile µs':>10}")
    for name, mapping, validate in CASES:
        nanoseconds, compile_us = measure(mapping, validate)
        rate = 1e9 / nanoseconds
        print(f"{name:<{width}}  {nanoseconds:>8.0f}  {rate:>11,.0f}  {compile_us:>10.1f}")


if __name__ == "__main__":
    main()
