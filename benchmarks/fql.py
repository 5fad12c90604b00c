"""How fast compiled FQL predicates test one event, for a few representative queries.

    .venv/bin/python benchmarks/fql.py

Each row is the best of five timeit runs of `predicate(event)` on a typical track event (the
figure includes the cost of the call itself), plus the one-off cost of parsing and compiling.
"""

from __future__ import annotations

import timeit
from typing import Any

from seamline.spec.fql import compile_fql

EVENT: dict[str, Any] = {
    "type": "track",
    "event": "Order Completed",
    "userId": "u-123",
    "anonymousId": "a-456",
    "properties": {"total": 129.5, "currency": "EUR", "coupon": None, "products": [{"id": "p1"}]},
    "context": {
        "library": {"name": "analytics.js", "version": "1.0.3"},
        "page": {"path": "/checkout/complete", "url": "https://example.com/checkout/complete"},
    },
}
QUERIES = [
    'type = "track" and event = "Order Completed"',
    "type in ['track', 'page'] and properties.total >= 100",
    "properties.coupon != null or properties.missing = null",
    "match(context.page.path, '/checkout/*') and !contains(context.library.name, 'ios')",
    "(type = 'identify' or length(userId) > 0) and lowercase(properties.currency) = 'eur'",
]


def measure(query: str) -> tuple[float, float]:
    """Nanoseconds per predicate call and microseconds per (uncached) compile."""
    predicate = compile_fql(query)
    timer = timeit.Timer(lambda: predicate(EVENT))
    number, _ = timer.autorange()
    per_call = min(timer.repeat(repeat=5, number=number)) / number
    compiler = compile_fql.__wrapped__  # bypass the cache to time the parse + compile
    compile_timer = timeit.Timer(lambda: compiler(query))
    compile_number, _ = compile_timer.autorange()
    per_compile = min(compile_timer.repeat(repeat=3, number=compile_number)) / compile_number
    return per_call * 1e9, per_compile * 1e6


def main() -> None:
    """Print one row per query: time per call, calls per second, compile time."""
    width = max(len(q) for q in QUERIES)
    print(f"{'query':<{width}}  {'ns/call':>8}  {'calls/s':>11}  {'compile µs':>10}")
    for query in QUERIES:
        nanoseconds, compile_us = measure(query)
        calls = 1e9 / nanoseconds
        print(f"{query:<{width}}  {nanoseconds:>8.0f}  {calls:>11,.0f}  {compile_us:>10.1f}")


if __name__ == "__main__":
    main()
