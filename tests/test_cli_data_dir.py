"""A mistyped --data-dir is refused, not quietly turned into a new, empty workspace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_cli import cli


@pytest.mark.parametrize(
    "args",
    [
        ["events", "count"],
        ["events", "tail"],
        ["sources", "list"],
        ["sources", "create", "Website"],
        ["tokens", "create", "--name", "ops"],
        ["tokens", "list"],
        ["tokens", "revoke", "ops"],
        ["violations"],
        ["held", "list"],
        ["destinations", "status"],
        ["profiles", "show", "user_id:u1"],
        ["rebuild"],
    ],
)
def test_commands_refuse_a_data_dir_that_does_not_exist(tmp_path: Path, args: list[str]) -> None:
    missing = tmp_path / "seamline-dta"  # a typo
    done = cli("--data-dir", str(missing), *args)
    assert done.returncode == 2
    assert done.stdout == ""
    [line] = done.stderr.strip().splitlines()
    assert f"no Seamline data directory at {missing}" in line
    assert "seamline --data-dir" in line and "serve" in line  # what to do next
    assert not missing.exists()  # nothing was created


def test_a_directory_that_is_not_a_data_dir_is_refused(tmp_path: Path) -> None:
    done = cli("--data-dir", str(tmp_path), "sources", "list")
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert f"{tmp_path} is not a Seamline data directory (no state.db)" in line
    assert not (tmp_path / "state.db").exists()


def test_init_makes_a_data_dir_the_other_commands_accept(tmp_path: Path) -> None:
    data = tmp_path / "data"
    made = cli("--data-dir", str(data), "init")
    assert made.returncode == 0, made.stderr
    assert (data / "state.db").is_file()
    counted = cli("--data-dir", str(data), "events", "count", "--json")
    assert counted.returncode == 0, counted.stderr
    assert json.loads(counted.stdout) == {"accepted": 0, "stored": 0}
    assert cli("--data-dir", str(data), "init").returncode == 0  # again: nothing changes


def test_with_postgresql_state_commands_need_no_local_data_dir(
    tmp_path: Path, postgres_url: str
) -> None:
    """A machine that only manages the workspace (state in PostgreSQL) has no data directory;
    commands that read the log or the event store still need one."""
    env = {"SEAMLINE_DATABASE_URL": postgres_url}
    nowhere = str(tmp_path / "none")
    made = cli("--data-dir", nowhere, "sources", "create", "Website", "--json", env=env)
    assert made.returncode == 0, made.stderr
    listed = cli("--data-dir", nowhere, "sources", "list", "--json", env=env)
    assert [s["name"] for s in json.loads(listed.stdout)] == ["Website"]
    counted = cli("--data-dir", nowhere, "events", "count", env=env)
    assert counted.returncode == 2
    assert f"no Seamline data directory at {nowhere}" in counted.stderr


def test_init_with_postgresql_makes_the_data_dir_it_says_is_ready(
    tmp_path: Path, postgres_url: str
) -> None:
    env = {"SEAMLINE_DATABASE_URL": postgres_url}
    data = tmp_path / "data"
    made = cli("--data-dir", str(data), "init", env=env)
    assert made.returncode == 0, made.stderr
    assert "ready at" in made.stdout and data.is_dir()
    counted = cli("--data-dir", str(data), "events", "count", "--json", env=env)
    assert counted.returncode == 0, counted.stderr
    assert json.loads(counted.stdout) == {"accepted": 0, "stored": 0}
