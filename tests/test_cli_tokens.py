"""`seamline tokens list` and `tokens revoke`, and what a revoked token gets from the server."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import Server
from tests.test_cli import cli, initialised


def test_list_shows_tokens_without_their_secrets_and_revoke_refuses_unknown_names(
    tmp_path: Path,
) -> None:
    data = initialised(tmp_path)
    made = json.loads(cli("--data-dir", data, "tokens", "create", "--name", "ops", "--json").stdout)
    listed = cli("--data-dir", data, "tokens", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert row["name"] == "ops" and row["id"] == made["id"]
    assert row["last_used_at"] is None and row["revoked_at"] is None and row["scopes"] is None
    table = cli("--data-dir", data, "tokens", "list")
    assert "ops" in table.stdout and "never" in table.stdout
    assert made["token"] not in listed.stdout + table.stdout  # never the secret
    taken = cli("--data-dir", data, "tokens", "create", "--name", "ops")
    assert taken.returncode == 2 and "already exists" in taken.stderr
    unknown = cli("--data-dir", data, "tokens", "revoke", "nope")
    assert unknown.returncode == 2
    [line] = unknown.stderr.strip().splitlines()
    assert "no token named 'nope'" in line and "seamline tokens list" in line


@pytest.mark.slow
def test_a_token_revoked_while_the_server_runs_gets_401_at_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Server(data) as server:
        made = json.loads(
            cli("--data-dir", str(data), "tokens", "create", "--name", "ci", "--json").stdout
        )
        bearer = {"Authorization": f"Bearer {made['token']}"}
        assert httpx.get(f"{server.url}/api/v1/resources", headers=bearer).status_code == 200
        revoked = cli("--data-dir", str(data), "tokens", "revoke", "ci")
        assert revoked.returncode == 0, revoked.stderr
        assert f"revoked token ci ({made['id']})" in revoked.stdout
        answer = httpx.get(f"{server.url}/api/v1/resources", headers=bearer)
        assert answer.status_code == 401
        assert answer.json()["code"] == "unauthorized"
        assert "unknown or revoked token" in answer.json()["message"]
        missing = httpx.get(f"{server.url}/api/v1/resources")
        assert "no access token" in missing.json()["message"]
    [row] = json.loads(cli("--data-dir", str(data), "tokens", "list", "--json").stdout)
    assert row["revoked_at"] is not None and row["last_used_at"] is not None
    again = cli("--data-dir", str(data), "tokens", "revoke", "ci")
    assert again.returncode == 2 and "already revoked" in again.stderr
