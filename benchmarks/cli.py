"""How long the quick CLI commands take from the shell, start-up included (target: ≤ 1 s).

    .venv/bin/python benchmarks/cli.py [--events 20000] [--runs 10]

Prepares a data directory (a real `seamline serve` that accepts and stores `--events` track
events, then stops), runs hyperfine over `seamline --help`, `events count`, `sources list` and
`violations` against it, and prints a table. Needs hyperfine (`apt-get install hyperfine`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: make `tests` importable

import httpx  # noqa: E402
from rich.table import Table  # noqa: E402

from seamline.cli.terminal import make_console  # noqa: E402
from tests.e2e.server import Server, run_cli  # noqa: E402

COMMANDS = {
    "--help": ["--help"],
    "events count": ["events", "count"],
    "sources list": ["sources", "list"],
    "violations": ["violations"],
}
TARGET_SECONDS = 1.0


def prepare(data_dir: Path, events: int) -> None:
    """A data directory whose log and event store hold `events` events, server stopped."""
    with Server(data_dir) as server:
        key = server.write_key
        for start in range(0, events, 500):
            batch = [
                {"type": "track", "userId": f"u{n % 1000}", "event": "Viewed", "messageId": f"m{n}"}
                for n in range(start, min(start + 500, events))
            ]
            answer = httpx.post(
                f"{server.url}/v1/batch", auth=(key, ""), json={"batch": batch}, timeout=30
            )
            answer.raise_for_status()
        deadline = time.monotonic() + 120
        while run_cli(data_dir, "events", "count", "--json")["stored"] < events:
            if time.monotonic() > deadline:
                raise TimeoutError("the pipeline did not store every event in 120 s")
            time.sleep(0.5)


def measure(data_dir: Path, runs: int) -> list[dict[str, float | str]]:
    """hyperfine's mean, standard deviation, min and max wall time per command, and its mean
    user and system CPU time (steadier than wall time on a busy machine), in seconds."""
    seamline = str(Path(sys.executable).parent / "seamline")
    names = list(COMMANDS)
    with tempfile.TemporaryDirectory() as scratch:
        export = Path(scratch) / "hyperfine.json"
        subprocess.run(
            [
                "hyperfine",
                "--warmup",
                "2",
                "--runs",
                str(runs),
                "--style",
                "none",
                "--export-json",
                str(export),
                *(
                    " ".join([seamline, "--data-dir", str(data_dir), *COMMANDS[name]])
                    for name in names
                ),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        results = json.loads(export.read_text())["results"]
    return [
        {
            "command": name,
            **{k: float(r[k]) for k in ("mean", "stddev", "min", "max", "user", "system")},
        }
        for name, r in zip(names, results, strict=True)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000, help="events in the data dir")
    parser.add_argument("--runs", type=int, default=10, help="hyperfine runs per command")
    args = parser.parse_args()
    if shutil.which("hyperfine") is None:
        sys.exit(
            "hyperfine is not installed: `apt-get install hyperfine` (Debian, Ubuntu) or "
            "`cargo install hyperfine`, then run this again"
        )
    console = make_console()  # piped into a file, the table keeps one row per line
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = Path(scratch) / "data"
        with console.status(f"preparing a data directory with {args.events:,} events…"):
            prepare(data_dir, args.events)
        with console.status("running hyperfine…"):
            rows = measure(data_dir, args.runs)
    table = Table(
        "command",
        "mean (s)",
        "± sd",
        "min",
        "max",
        "CPU (user+sys)",
        "≤ 1 s",
        title="seamline CLI start-up",
    )
    for row in rows:
        mean = float(row["mean"])
        table.add_row(
            f"seamline {row['command']}",
            f"{mean:.3f}",
            f"{float(row['stddev']):.3f}",
            f"{float(row['min']):.3f}",
            f"{float(row['max']):.3f}",
            f"{float(row['user']) + float(row['system']):.3f}",
            "yes" if mean <= TARGET_SECONDS else "NO",
        )
    console.print(table)


if __name__ == "__main__":
    main()
