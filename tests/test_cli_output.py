"""What the CLI prints into a pipe, and what its quick commands import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_cli import cli, initialised

# The engines and the server: seconds of imports that the quick commands must never pay.
HEAVY = ("fastapi", "uvicorn", "duckdb", "ibis", "sklearn", "scipy", "pyarrow", "pandas")


def test_a_piped_table_keeps_each_row_on_one_line(tmp_path: Path) -> None:
    data = initialised(tmp_path)
    key = "k" * 150  # a write key wider than the 80 columns Rich assumes for a pipe
    made = cli("--data-dir", data, "sources", "create", "Website", "--write-key", key)
    assert made.returncode == 0, made.stderr
    assert f"write key: {key}" in made.stdout.splitlines()
    listed = cli("--data-dir", data, "sources", "list")
    [row] = [line for line in listed.stdout.splitlines() if "Website" in line]
    assert key in row


def imported_by(*argv: str) -> list[str]:
    """The heavy modules in sys.modules after running `seamline ARGV` in a fresh interpreter."""
    script = (
        "import sys\n"
        "from seamline.cli import app\n"
        f"sys.argv = ['seamline', *{list(argv)!r}]\n"
        "try:\n"
        "    app(standalone_mode=False)\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    found: list[str] = json.loads(done.stderr.strip().splitlines()[-1].replace("'", '"'))
    return found


def test_importing_the_cli_imports_no_engine_and_no_server() -> None:
    assert imported_by("--help") == []


@pytest.mark.parametrize(
    "command", [["events", "count"], ["sources", "list"], ["violations"], ["tokens", "list"]]
)
def test_quick_commands_import_no_engine_and_no_server(tmp_path: Path, command: list[str]) -> None:
    assert imported_by("--data-dir", initialised(tmp_path), *command) == []
