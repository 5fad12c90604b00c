"""Function runner throughput: events/s through a user function in its worker process.

Runs a few small functions over batches of ~700-byte track events and prints events/s per
batch size, next to calling the same function in-process (no isolation) for scale. Also times
starting a worker and recovering from a timeout (kill, restart, carry on). Uses the server's
garbage-collector settings (`tune_runtime`): the parent decodes every result, and with the
default thresholds batches of 1000 measured ~35 % slower (86 k against 138 k events/s).

    .venv/bin/python benchmarks/functions.py --events 100000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: make `benchmarks` importable

from benchmarks.payloads import MESSAGE_ID, track_event  # noqa: E402
from seamline.protocols.functions import FunctionRunner  # noqa: E402

FUNCTIONS = {
    "identity": """
        def transform(event):
            return event
    """,
    "rename": """
        def transform(event):
            if event["event"] == "Order Completed":
                event["event"] = "Purchase"
            event["properties"]["currency"] = event["properties"].get("currency", "USD").lower()
            return event
    """,
    "drop half": """
        def transform(event):
            return event if int(event["messageId"][-1]) % 2 else None
    """,
}


def events(count: int) -> list[dict[str, Any]]:
    made = []
    for index in range(count):
        event = track_event(index)
        event["messageId"] = f"{MESSAGE_ID.strip('@')}-{index}"
        made.append(event)
    return made


def per_second(count: int, seconds: float) -> str:
    return f"{count / seconds:>12,.0f}"


def time_batches(runner: FunctionRunner, batches: list[list[dict[str, Any]]], repeat: int) -> float:
    """Best of `repeat` passes, in seconds: the machine's noise only ever adds time."""
    runner.run(batches[0])  # warm up: first batch pays for imports and caches in the worker
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for batch in batches:
            outcomes = runner.run(batch)
            assert len(outcomes) == len(batch)
        best = min(best, time.perf_counter() - started)
    return best


def time_in_process(source: str, batches: list[list[dict[str, Any]]], repeat: int) -> float:
    namespace: dict[str, Any] = {}
    exec(textwrap.dedent(source), namespace)
    transform = namespace["transform"]
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for batch in batches:
            [transform(dict(event)) for event in batch]
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="events per measurement")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 100, 1000, 10_000])
    parser.add_argument("--repeat", type=int, default=3, help="passes per row; the best is shown")
    options = parser.parse_args()
    from seamline.app import tune_runtime  # here, not at the top: workers import this script

    tune_runtime()
    workload = events(options.events)

    with tempfile.TemporaryDirectory() as directory:
        print(f"{'function':<10} {'batch':>6} {'events/s':>12} {'µs/event':>9} {'in-process':>12}")
        for name, source in FUNCTIONS.items():
            path = Path(directory) / f"{name.replace(' ', '_')}.py"
            path.write_text(textwrap.dedent(source))
            with FunctionRunner(path, name=name) as runner:
                for size in options.sizes:
                    count = min(len(workload), size * 10_000)  # batches of 1 are slow
                    batches = [workload[i : i + size] for i in range(0, count, size)]
                    seconds = time_batches(runner, batches, options.repeat)
                    baseline = time_in_process(source, batches, options.repeat)
                    print(
                        f"{name:<10} {size:>6} {per_second(count, seconds)}"
                        f" {seconds / count * 1e6:>9.1f} {per_second(count, baseline)}"
                    )

        path = Path(directory) / "hang.py"
        path.write_text(
            "def transform(event):\n    while event['event'] == 'hang':\n        pass\n"
        )
        started = time.perf_counter()
        runner = FunctionRunner(path, name="hang", time_limit=0.2)
        print(f"\nstart a worker (spawn, load the file): {time.perf_counter() - started:.3f} s")
        with runner:
            runner.run([{"event": "warm"}])
            started = time.perf_counter()
            outcomes = runner.run([{"event": "hang"}, {"event": "after"}])
            elapsed = time.perf_counter() - started
            assert [outcome.kind for outcome in outcomes] == ["timeout", "dropped"]
            print(f"timeout recovery (0.2 s limit + kill + restart + next event): {elapsed:.3f} s")


if __name__ == "__main__":
    main()
