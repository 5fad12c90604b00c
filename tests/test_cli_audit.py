"""`seamline audit list|verify`, and what CLI commands record, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.test_cli import cli

PLAN = """\
tracking_plans:
  Shop:
    events:
      Order Completed: {}
"""


def setup(tmp_path: Path, state_url: str) -> tuple[list[str], dict[str, str]]:
    env = {"SEAMLINE_DATABASE_URL": state_url}
    data = ["--data-dir", str(tmp_path / "data")]
    assert cli(*data, "init", env=env).returncode == 0
    made = cli(*data, "sources", "create", "Website", "--json", env=env)
    assert made.returncode == 0, made.stderr
    file = tmp_path / "workspace.yaml"
    file.write_text(PLAN)
    applied = cli(*data, "apply", "-f", str(file), "--yes", env=env)
    assert applied.returncode == 0, applied.stderr
    return data, env


def test_commands_are_recorded_and_listed(tmp_path: Path, state_url: str) -> None:
    data, env = setup(tmp_path, state_url)
    listed = cli(*data, "audit", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    found = json.loads(listed.stdout)
    actions = [(e["action"], e["resource"]["type"]) for e in found]
    assert ("resource.create", "tracking_plan") in actions
    assert ("source.create", "source") in actions
    assert {e["actor"]["kind"] for e in found} == {"cli"}
    only = json.loads(
        cli(*data, "audit", "list", "--action", "source.create", "--json", env=env).stdout
    )
    assert [e["after"]["name"] for e in only] == ["Website"]
    future = cli(*data, "audit", "list", "--since", "2999-01-01", "--json", env=env)
    assert json.loads(future.stdout) == []
    table = cli(*data, "audit", "list", env=env)
    assert "source.create" in table.stdout and "cli:cli" in table.stdout
    bad = cli(*data, "audit", "list", "--since", "last tuesday", env=env)
    assert bad.returncode == 2
    [line] = bad.stderr.strip().splitlines()
    assert "since must be an ISO 8601 time" in line


def test_verify_finds_an_edited_and_a_deleted_row(tmp_path: Path, state_url: str) -> None:
    data, env = setup(tmp_path, state_url)
    cli(*data, "sources", "create", "Backend", env=env)
    good = cli(*data, "audit", "verify", env=env)
    assert good.returncode == 0, good.stderr
    count = len(json.loads(cli(*data, "audit", "list", "--json", env=env).stdout))
    assert good.stdout.startswith(f"OK: {count} entries, head ")

    engine = create_engine(state_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE audit_trail SET payload = replace(payload, :a, :b) WHERE seq = 2"),
                {"a": "Shop", "b": "Shoq"},
            )
        edited = cli(*data, "audit", "verify", env=env)
        assert edited.returncode == 1
        assert "BROKEN at entry 2: entry 2's content does not match its hash" in edited.stdout
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE audit_trail SET payload = replace(payload, :b, :a) WHERE seq = 2"),
                {"a": "Shop", "b": "Shoq"},
            )
        assert cli(*data, "audit", "verify", env=env).returncode == 0
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_trail WHERE seq = 1"))
        deleted = cli(*data, "audit", "verify", env=env)
        assert deleted.returncode == 1
        assert "BROKEN at entry 1: entry 1 is missing" in deleted.stdout
    finally:
        engine.dispose()


def test_token_changes_are_recorded_without_secrets(tmp_path: Path, state_url: str) -> None:
    env = {"SEAMLINE_DATABASE_URL": state_url}
    data = ["--data-dir", str(tmp_path / "data")]
    made = cli(
        *data, "tokens", "create", "--name", "ci", "--role", "source-admin", "--json", env=env
    )
    assert made.returncode == 0, made.stderr
    rotated = cli(*data, "tokens", "rotate", "ci", "--json", env=env)
    assert rotated.returncode == 0, rotated.stderr
    assert cli(*data, "tokens", "revoke", "ci", env=env).returncode == 0
    listed = cli(*data, "audit", "list", "--resource-type", "token", "--json", env=env)
    found = json.loads(listed.stdout)
    assert [e["action"] for e in found] == ["token.revoke", "token.rotate", "token.create"]
    revoke, rotate, create = found
    assert create["after"] == {
        "id": json.loads(made.stdout)["id"],
        "name": "ci",
        "roles": ["source-admin"],
        "pii_access": False,
    }
    assert rotate["resource"]["id"] == json.loads(rotated.stdout)["id"]
    assert revoke["before"]["id"] == rotate["resource"]["id"]
    for secret in (json.loads(made.stdout)["token"], json.loads(rotated.stdout)["token"]):
        assert secret not in listed.stdout
