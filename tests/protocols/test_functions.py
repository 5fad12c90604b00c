"""FunctionRunner: user transform functions in a worker process that nothing they do can break."""

from __future__ import annotations

import os
import tempfile
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from seamline.errors import InvalidInput
from seamline.protocols.functions import FunctionRunner, Outcome

WriteFunction = Callable[[str], Path]


@pytest.fixture
def write_function(tmp_path: Path) -> WriteFunction:
    def write(source: str) -> Path:
        path = tmp_path / f"function_{len(list(tmp_path.iterdir()))}.py"
        path.write_text(textwrap.dedent(source))
        return path

    return write


@pytest.fixture
def runners() -> Iterator[list[FunctionRunner]]:
    """Runners to close after the test, whatever it asserted."""
    started: list[FunctionRunner] = []
    yield started
    for runner in started:
        runner.close()


def start(runners: list[FunctionRunner], path: Path, **options: Any) -> FunctionRunner:
    runner = FunctionRunner(path, name="test", **options)
    runners.append(runner)
    return runner


def track(event: str, **properties: Any) -> dict[str, Any]:
    return {"type": "track", "event": event, "messageId": event, "properties": properties}


def test_renames_an_event_without_touching_the_callers_copy(
    write_function: WriteFunction, runners: list[FunctionRunner]
) -> None:
    path = write_function("""
        def transform(event):
            if event.get("event") == "Order Completed":
                event["event"] = "Purchase"
            return event
    """)
    events = [track("Order Completed", total=3), track("Signed Up")]
    outcomes = start(runners, path).run(events)
    assert outcomes == [
        Outcome("ok", event=track("Purchase", total=3) | {"messageId": "Order Completed"}),
        Outcome("ok", event=track("Signed Up")),
    ]
    assert events[0]["event"] == "Order Completed"


def test_returning_none_drops_the_event(
    write_function: WriteFunction, runners: list[FunctionRunner]
) -> None:
    path = write_function("""
        def transform(event):
            return None if event["event"].startswith("Debug") else event
    """)
    outcomes = start(runners, path).run([track("Debug Ping"), track("Signed Up"), track("Debug")])
    assert [outcome.kind for outcome in outcomes] == ["dropped", "ok", "dropped"]


def test_an_exception_is_an_error_with_the_users_traceback_and_the_rest_go_on(
    write_function: WriteFunction, runners: list[FunctionRunner]
) -> None:
    path = write_function("""
        def transform(event):
            if event["properties"].get("bad"):
                raise ValueError("bad event: " + event["event"])
            return {**event, "event": event["event"].upper()}
    """)
    outcomes = start(runners, path).run([track("a"), track("b", bad=True), track("c")])
    assert [outcome.kind for outcome in outcomes] == ["ok", "error", "ok"]
    assert outcomes[2].event == track("C") | {"messageId": "c"}
    error = outcomes[1].error
    assert error is not None
    assert f'File "{path}", line 4, in transform' in error
    assert 'raise ValueError("bad event: " + event["event"])' in error
    assert error.rstrip().endswith("ValueError: bad event: b")
    assert "_apply" not in error  # the worker's own frame is left out


def test_an_event_over_the_time_limit_times_out_and_the_others_still_run(
    write_function: WriteFunction, runners: list[FunctionRunner]
) -> None:
    path = write_function("""
        def transform(event):
            while event["event"] == "hang":
                pass
            return event
    """)
    runner = start(runners, path, time_limit=0.3)
    outcomes = runner.run([track("a"), track("hang"), track("b"), track("c")])
    assert outcomes == [
        Outcome("ok", event=track("a")),
        Outcome("timeout", error="transform took longer than 0.3 s"),
        Outcome("ok", event=track("b")),
        Outcome("ok", event=track("c")),
    ]
    assert runner.run([track("d")]) == [Outcome("ok", event=track("d"))]


def test_a_worker_that_cannot_be_restarted_fails_the_rest_of_the_batch(
    write_function: WriteFunction, runners: list[FunctionRunner]
) -> None:
    # The sandbox lets a function see whether a path exists, but not write one: the test breaks
    # the next load with a marker in the temporary directory, which every user may search.
    marker = Path(tempfile.gettempdir()) / f"seamline-test-{uuid.uuid4().hex}"
    path = write_function(f"""
        import os

        if os.path.exists({str(marker)!r}):
            raise RuntimeError("loads only once")

        def transform(event):
            while event["event"] == "hang":
                pass
            return event
    """)
    runner = start(runners, path, time_limit=0.3)
    marker.touch()
    try:
        outcomes = runner.run([track("hang"), track("a"), track("b")])
    finally:
        marker.unlink()
    failed = Outcome(
        "error", error="function 'test' could not be loaded: RuntimeError: loads only once"
    )
    assert outcomes == [
        Outcome("timeout", error="transform took longer than 0.3 s"),
        failed,
        failed,
    ]
    assert runner.run([track("c")]) == [Outcome("ok", event=track("c"))]


@pytest.mark.parametrize(
    ("returns", "error"),
    [
        ("3", "transform must return a dict or None, got int"),
        ("[event]", "transform must return a dict or None, got list"),
        ('{"object": object()}', "transform must return JSON data: "),
    ],
)
def test_a_result_that_is_not_a_json_object_is_an_error(
    write_function: WriteFunction, runners: list[FunctionRunner], returns: str, error: str
) -> None:
    path = write_function(f"""
        def transform(event):
            return {returns}
    """)
    [outcome] = start(runners, path).run([track("a")])
    assert outcome.kind == "error"
    assert outcome.error is not None and outcome.error.startswith(error)


@pytest.mark.parametrize(
    ("dies_with", "error"),
    [
        ("os._exit(3)", "worker exited with code 3"),
        ("ctypes.string_at(0)", "worker exited with code -11 (SIGSEGV)"),
    ],
    ids=["exit", "segfault"],
)
def test_a_worker_that_dies_fails_that_event_and_a_new_one_takes_the_rest(
    write_function: WriteFunction, runners: list[FunctionRunner], dies_with: str, error: str
) -> None:
    path = write_function(f"""
        import ctypes, os

        def transform(event):
            if event["event"] == "die":
                {dies_with}
            return event
    """)
    runner = start(runners, path)
    outcomes = runner.run([track("a"), track("die"), track("b")])
    assert outcomes == [
        Outcome("ok", event=track("a")),
        Outcome("error", error=error),
        Outcome("ok", event=track("b")),
    ]
    assert runner.run([track("c")]) == [Outcome("ok", event=track("c"))]


def test_an_allocation_over_the_memory_limit_raises_memory_error_in_the_function(
    write_function: WriteFunction, runners: list[FunctionRunner]
) -> None:
    path = write_function("""
        def transform(event):
            if event["event"] == "big":
                event["blob"] = bytearray(1024 * 1024 * 1024)
            return event
    """)
    outcomes = start(runners, path, memory_limit_mb=256).run([track("big"), track("small")])
    assert [outcome.kind for outcome in outcomes] == ["error", "ok"]
    assert outcomes[0].error is not None and "MemoryError" in outcomes[0].error


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def transform(event)\n    return event\n", "SyntaxError: expected ':'"),
        (
            "def transfrom(event):\n    return event\n",
            "does not define a transform(event) function",
        ),
        ("transform = 3\n", "does not define a transform(event) function"),
        (
            "import no_such_module_here\n",
            "ModuleNotFoundError: No module named 'no_such_module_here'",
        ),
        ("raise SystemExit(2)\n", "SystemExit: 2"),
    ],
    ids=[
        "syntax error",
        "no transform",
        "transform not callable",
        "import error",
        "exits on import",
    ],
)
def test_a_function_that_does_not_load_is_invalid_input_at_construction(
    write_function: WriteFunction, source: str, message: str
) -> None:
    path = write_function(source)
    with pytest.raises(InvalidInput, match="could not be loaded") as raised:
        FunctionRunner(path, name="broken")
    assert message in raised.value.message
    assert raised.value.details["path"] == str(path)


def test_a_missing_file_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot read"):
        FunctionRunner(tmp_path / "missing.py", name="missing")


def test_module_level_state_persists_between_events_and_batches(
    write_function: WriteFunction, runners: list[FunctionRunner]
) -> None:
    path = write_function("""
        seen = 0

        def transform(event):
            global seen
            seen += 1
            return {**event, "properties": {"seen": seen}}
    """)
    runner = start(runners, path)
    first = runner.run([track("a"), track("b")])
    second = runner.run([track("c")])
    assert [outcome.event["properties"]["seen"] for outcome in first + second if outcome.event] == [
        1,
        2,
        3,
    ]


def test_an_empty_batch_has_no_outcomes(
    write_function: WriteFunction, runners: list[FunctionRunner]
) -> None:
    path = write_function("def transform(event):\n    return event\n")
    assert start(runners, path).run([]) == []


def test_closing_stops_the_worker_and_further_runs_raise(write_function: WriteFunction) -> None:
    path = write_function("def transform(event):\n    return event\n")
    with FunctionRunner(path, name="closing") as runner:
        assert runner._worker is not None
        pid = runner._worker.process.pid
        assert pid is not None
        os.kill(pid, 0)  # running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # stopped and reaped
    with pytest.raises(RuntimeError, match="closed"):
        runner.run([track("a")])
    runner.close()
