"""`seamline users create|list|disable` from the shell: weak input is one line and exit 2, and
a password is never echoed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.forked_cli import run_seamline
from tests.test_cli import cli, initialised

PASSWORD = "correct horse battery"


def cli_with_input(*args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return run_seamline(list(args), input=stdin)


def test_the_first_owner_is_created_listed_and_disabled(tmp_path: Path) -> None:
    data = initialised(tmp_path)
    made = cli(
        "--data-dir", data, "users", "create", "--email", "Ann@Example.com",
        "--password", PASSWORD, "--role", "workspace-owner", "--json",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    assert created["roles"] == ["workspace-owner"] and created["pii_access"] is True
    piped = cli_with_input(
        "--data-dir", data, "users", "create", "--email", "bob@example.com",
        "--role", "source-read-only:web", "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert piped.returncode == 0, piped.stderr
    listed = cli("--data-dir", data, "users", "list", "--json")
    rows = {row["email"]: row for row in json.loads(listed.stdout)}
    assert rows["bob@example.com"]["roles"] == ["source-read-only:web"]
    assert rows["bob@example.com"]["pii_access"] is False
    table = cli("--data-dir", data, "users", "list")
    assert "Ann@Example.com" in table.stdout and "bob@example.com" in table.stdout
    everything = made.stdout + made.stderr + piped.stdout + piped.stderr + listed.stdout
    assert PASSWORD not in everything + table.stdout
    disabled = cli("--data-dir", data, "users", "disable", "BOB@example.com")
    assert disabled.returncode == 0, disabled.stderr
    rows = {row["email"]: row for row in json.loads(cli("--data-dir", data, "users", "list",
                                                         "--json").stdout)}  # fmt: skip
    assert rows["bob@example.com"]["disabled_at"] is not None
    trail = cli("--data-dir", data, "audit", "list", "--json")
    recorded = [(e["action"], e["resource"]["id"]) for e in json.loads(trail.stdout)]
    bob = rows["bob@example.com"]["id"]
    assert ("user.create", created["id"]) in recorded and ("user.disable", bob) in recorded
    assert PASSWORD not in trail.stdout


def test_weak_input_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    data = initialised(tmp_path)
    cases = [
        (["--email", "nope", "--password", PASSWORD, "--role", "workspace-owner"], "email"),
        (["--email", "a@b.co", "--password", "hunter2hunt", "--role", "workspace-owner"], "12"),
        (["--email", "a@b.co", "--password", PASSWORD, "--role", "admin"], "unknown role"),
        (["--email", "a@b.co", "--role", "workspace-owner"], "--password-stdin"),
    ]
    for args, complaint in cases:
        done = cli("--data-dir", data, "users", "create", *args)
        assert done.returncode == 2, (args, done.stderr)
        [line] = done.stderr.strip().splitlines()
        assert complaint in line
        assert "hunter2hunt" not in done.stderr and PASSWORD not in done.stderr
    assert json.loads(cli("--data-dir", data, "users", "list", "--json").stdout) == []
    missing = cli("--data-dir", data, "users", "disable", "who@example.com")
    assert missing.returncode == 2 and "no user with the email" in missing.stderr
