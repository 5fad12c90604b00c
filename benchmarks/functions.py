"""Function runner throughput: the cost per event of a user function in its sandboxed worker.

Runs a few small functions over batches of ~700-byte track events and prints µs per event with
the sandbox off (an internal switch of FunctionRunner, for this measurement only) and on, their
ratio, and calling the same function in-process (no isolation) for scale. Also times a source
function and a destination function per call, starting a worker (spawn, confine, load the file)
both ways, and recovering from a timeout (kill, restart, carry on). Uses the server's
garbage-collector settings (`tune_runtime`): the parent decodes every result, and with the
default thresholds batches of 1000 measured ~35 % slower.

    .venv/bin/python benchmarks/functions.py --events 100000
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: make `benchmarks` importable

from benchmarks.payloads import MESSAGE_ID, track_event  # noqa: E402
from seamline.protocols.destination_functions import DestinationFunctionRunner  # noqa: E402
from seamline.protocols.functions import FunctionRunner  # noqa: E402
from seamline.protocols.source_functions import SourceFunctionRunner  # noqa: E402

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


def time_batches(
    runners: list[FunctionRunner], batches: list[list[dict[str, Any]]], repeat: int
) -> list[float]:
    """Best of `repeat` passes per runner, in seconds, the runners taking turns so that the
    machine's noise (it only ever adds time) falls on both alike."""
    for runner in runners:
        runner.run(batches[0])  # warm up: the first batch pays for imports and caches
    best = [float("inf")] * len(runners)
    for _ in range(repeat):
        for index, runner in enumerate(runners):
            started = time.perf_counter()
            for batch in batches:
                outcomes = runner.run(batch)
                assert len(outcomes) == len(batch)
            best[index] = min(best[index], time.perf_counter() - started)
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


def time_start(path: Path, repeat: int) -> tuple[float, float]:
    """Best of `repeat` worker starts (spawn, confine, load, first event) with the sandbox off
    and on, taking turns, in seconds."""
    best = {False: float("inf"), True: float("inf")}
    for _ in range(repeat):
        for sandbox in best:
            started = time.perf_counter()
            with FunctionRunner(path, name="start", _sandbox=sandbox) as runner:
                runner.run([{"event": "first"}])
                best[sandbox] = min(best[sandbox], time.perf_counter() - started)
    return best[False], best[True]


SOURCE_FUNCTION = """
def on_request(request, settings):
    order = request.json()
    identify(user_id=order["userId"], traits={"email": order["email"]})
    track(event="Order Completed", user_id=order["userId"], properties=order["properties"])
"""
DESTINATION_FUNCTION = """
def on_track(event, settings):
    return {"name": event["event"], "total": event["properties"].get("total")}
"""


def time_other_kinds(workload: list[dict[str, Any]], size: int, repeat: int) -> None:
    """µs per request of a source function (a JSON body → identify + track, validated) and
    per event of a destination function's handler (no request sent), in batches of `size`."""
    bodies = [
        {"userId": event["userId"], "email": "a@example.com", "properties": event["properties"]}
        for event in workload
    ]
    requests = [
        {"method": "POST", "url": "/hook", "headers": {}, "query": {}, "body": json.dumps(body)}
        for body in bodies
    ]
    calls = [("on_track", event) for event in workload]
    with (
        SourceFunctionRunner("source", SOURCE_FUNCTION) as source,
        DestinationFunctionRunner("destination", DESTINATION_FUNCTION) as destination,
    ):
        for label, run, items in (
            ("source function (on_request)", source.run, requests),
            ("destination function (on_track)", lambda chunk: destination.run(chunk, dict), calls),
        ):
            chunks = [items[i : i + size] for i in range(0, len(items), size)]
            run(chunks[0])
            best = float("inf")
            for _ in range(repeat):
                started = time.perf_counter()
                for chunk in chunks:
                    run(chunk)
                best = min(best, time.perf_counter() - started)
            print(f"{label:<34} batch {size:>5}: {best / len(items) * 1e6:8.2f} µs per call")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="events per measurement")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 100, 1000, 10_000])
    parser.add_argument("--repeat", type=int, default=3, help="passes per row; the best is shown")
    options = parser.parse_args()
    from seamline.app import tune_runtime

    tune_runtime()
    workload = events(options.events)

    with tempfile.TemporaryDirectory() as directory:
        print(
            f"{'function':<10} {'batch':>6} {'off µs/ev':>10} {'on µs/ev':>9} {'on/off':>7}"
            f" {'on events/s':>12} {'in-process µs/ev':>17}"
        )
        for name, source in FUNCTIONS.items():
            path = Path(directory) / f"{name.replace(' ', '_')}.py"
            path.write_text(textwrap.dedent(source))
            with (
                FunctionRunner(path, name=name, _sandbox=False) as bare,
                FunctionRunner(path, name=name) as sandboxed,
            ):
                for size in options.sizes:
                    count = min(len(workload), size * 10_000)  # batches of 1 are slow
                    batches = [workload[i : i + size] for i in range(0, count, size)]
                    off, on = (
                        seconds / count * 1e6
                        for seconds in time_batches([bare, sandboxed], batches, options.repeat)
                    )
                    baseline = time_in_process(source, batches, options.repeat) / count * 1e6
                    print(
                        f"{name:<10} {size:>6} {off:>10.2f} {on:>9.2f} {on / off:>7.2f}"
                        f" {1e6 / on:>12,.0f} {baseline:>17.2f}"
                    )

        path = Path(directory) / "hang.py"
        path.write_text(
            "def transform(event):\n    while event['event'] == 'hang':\n        pass\n"
        )
        off, on = time_start(path, options.repeat * 3)
        print(f"\n{'worker start-up (spawn, confine, load, first event)':<52} {'off':>8} {'on':>8}")
        print(f"{'':<52} {off * 1e3:>6.1f}ms {on * 1e3:>6.1f}ms  on/off {on / off:.2f}")
        print()
        time_other_kinds(workload[:10_000], 100, options.repeat)
        with FunctionRunner(path, name="hang", time_limit=0.2) as runner:
            runner.run([{"event": "warm"}])
            started = time.perf_counter()
            outcomes = runner.run([{"event": "hang"}, {"event": "after"}])
            elapsed = time.perf_counter() - started
            assert [outcome.kind for outcome in outcomes] == ["timeout", "dropped"]
            print(f"timeout recovery (0.2 s limit + kill + restart + next event): {elapsed:.3f} s")


if __name__ == "__main__":
    main()
