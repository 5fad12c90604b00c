"""What the ingest benchmark measured, and how it is printed (Rich) and saved (JSON)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks import wrk


@dataclass(frozen=True)
class Scenario:
    """One kind of request: where it goes, how many events it holds, how many connections."""

    name: str
    path: str
    events: int
    connections: int
    template: Path


@dataclass(frozen=True)
class Drain:
    """The pipeline catching up after a load: time waited, events still unstored, stored/s."""

    seconds: float
    backlog: int
    rate: float


@dataclass
class Row:
    """One scenario against one server; the count checks are made on Seamline only."""

    scenario: str
    server: str
    events_per_request: int
    result: wrk.WrkResult
    server_cpu: float  # cores kept busy on average over the measured window (1.0 = one core)
    accepted: int | None = None  # messages the log accepted during warm-up + measurement
    expected: int | None = None  # 2xx responses x events per request over the same runs
    stored_per_second: float | None = None  # pipeline rate while loaded (approximate)
    drain: Drain | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def events_per_second(self) -> float:
        return self.result.ok_per_second * self.events_per_request


def machine_facts(data_root: Path | None) -> dict[str, Any]:
    """What a reader needs to compare runs: CPUs, Python, wrk, load, the data's filesystem."""
    where = (data_root or Path(tempfile.gettempdir())).resolve()
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown",
    )
    version = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    return {
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "wrk": (version.stdout or version.stderr).split("Copyright")[0].strip(),
        "loadavg_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "data_filesystem": f"{_filesystem(where)} ({where})",
    }


def _filesystem(path: Path) -> str:
    """Type of the filesystem holding `path`: fsync costs nothing on tmpfs."""
    best, kind = "", "unknown"
    for line in Path("/proc/mounts").read_text().splitlines():
        _, mount, fstype, *_ = line.split()
        if (path == Path(mount) or Path(mount) in path.parents) and len(mount) > len(best):
            best, kind = mount, fstype
    return kind


_COLUMNS = (
    "scenario", "server", "req/s", "events/s", "p50 ms", "p99 ms", "rps/bare",
    "p50/bare", "p99/bare", "srv CPU", "wrk CPU", "non-2xx", "stored/s", "drain",
)  # fmt: skip


def print_report(
    console: Console,
    args: argparse.Namespace,
    facts: dict[str, Any],
    scenarios: list[Scenario],
    rows: list[Row],
    final: dict[str, int] | None,
    problems: list[str],
) -> list[str]:
    """Print the table, commands, machine and checks; return the failures (empty: clean run)."""
    bare = {row.scenario: row.result for row in rows if row.server == "bare"}
    table = Table(title="Seamline ingest vs a bare msgspec parse (wrk; rates count 2xx only)")
    for name in _COLUMNS:
        table.add_column(name, justify="left" if name in ("scenario", "server") else "right")
    for row in sorted(rows, key=lambda r: (r.scenario != "track", r.server == "bare")):
        result, base = row.result, bare.get(row.scenario)
        table.add_row(
            row.scenario,
            row.server,
            f"{result.ok_per_second:,.0f}",
            f"{row.events_per_second:,.0f}",
            f"{result.latency_ms['p50']:.2f}",
            f"{result.latency_ms['p99']:.2f}",
            _ratio(result.ok_per_second, base.ok_per_second if base else None),
            _ratio(result.latency_ms["p50"], base.latency_ms["p50"] if base else None),
            _ratio(result.latency_ms["p99"], base.latency_ms["p99"] if base else None),
            f"{row.server_cpu:.0%}",
            f"{result.cpu_seconds / result.seconds:.0%}",
            f"[red]{result.non_2xx}[/]" if result.non_2xx else "0",
            "" if row.stored_per_second is None else f"{row.stored_per_second:,.0f}",
            _drain_text(row.drain),
        )
    console.print(table)
    console.print(
        "srv/wrk CPU: average cores busy over the measured window (100% = one core). "
        "stored/s: pipeline rate while loaded (approx.). "
        "drain: wait after the load until stored == accepted."
    )
    console.print(
        "command: " + shlex.join([".venv/bin/python", "benchmarks/ingest.py", *sys.argv[1:]])
    )
    for scenario in scenarios:
        sample = wrk.Load(
            f"http://127.0.0.1:PORT{scenario.path}",
            scenario.template,
            "Basic base64(writeKey:)",
            "PREFIX",
            args.threads,
            scenario.connections,
            args.duration,
        )
        console.print(
            f"wrk, {scenario.name} ({scenario.template.stat().st_size:,} B body, "
            f"{args.warmup:g} s warm-up first): " + shlex.join(sample.command()),
            soft_wrap=True,
        )
    console.print("machine: " + ", ".join(f"{k}={v}" for k, v in facts.items()), soft_wrap=True)
    return _print_checks(console, rows, final, problems)


def _print_checks(
    console: Console, rows: list[Row], final: dict[str, int] | None, problems: list[str]
) -> list[str]:
    failures = [f"{row.server} {row.scenario}: {p}" for row in rows for p in row.problems]
    failures += problems
    for row in rows:
        if row.accepted is None or row.expected is None:
            continue
        verdict = "ok" if row.accepted >= row.expected else "[red]MISSING[/]"
        console.print(
            f"check {row.scenario}: accepted {row.accepted:,} ≥ 2xx responses x "
            f"events {row.expected:,}: {verdict}"
        )
        drain = row.drain
        if drain is not None and drain.backlog:
            console.print(
                f"[yellow]pipeline behind[/] after {row.scenario}: {drain.backlog:,} "
                f"accepted events not stored after {drain.seconds:.0f} s (storing "
                f"~{drain.rate:,.0f}/s; needs ~{drain.backlog / max(drain.rate, 1):.0f}"
                " s more)"
            )
    if final is None:
        console.print(
            "server killed with a pipeline backlog (the log keeps it); no after-shutdown count"
        )
    elif final["stored"] != final["accepted"]:
        failures.append(f"after shutdown stored {final['stored']} != accepted {final['accepted']}")
    else:
        console.print(f"after a graceful stop: accepted = stored = {final['accepted']:,}")
    for failure in failures:
        console.print(f"[bold red]FAILED:[/] {failure}")
    if not failures:
        console.print("[green]all checks passed[/]")
    return failures


def _ratio(value: float, base: float | None) -> str:
    return f"{value / base:.2f}x" if base else ""


def _drain_text(drain: Drain | None) -> str:
    if drain is None:
        return ""
    if drain.backlog:
        return f"{drain.backlog / 1000:,.0f}k left@{drain.seconds:.0f}s"
    return f"{drain.seconds:.1f}s"


def write_json(
    path: Path, facts: dict[str, Any], rows: list[Row], final: dict[str, int] | None
) -> None:
    """Save everything measured (wrk's raw output left out) for later comparison."""
    results = []
    for row in rows:
        entry = asdict(row)
        del entry["result"]["output"]
        entry["requests_per_second"] = row.result.ok_per_second
        entry["events_per_second"] = row.events_per_second
        results.append(entry)
    document = {"command": sys.argv, "machine": facts, "results": results, "final": final}
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
