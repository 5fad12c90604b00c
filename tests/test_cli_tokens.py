"""`seamline tokens create|list|revoke|rotate`, roles on tokens, and what a revoked token gets
from the server."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from seamline.access.tokens import authenticate
from seamline.config import Settings
from seamline.data_dir import open_state
from seamline.store.tokens_sql import SqlTokenStore
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
    assert row["last_used_at"] is None and row["revoked_at"] is None
    assert row["roles"] == ["workspace-owner"] and row["pii_access"] is True
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


def test_roles_on_create_are_checked_shown_and_kept_by_rotate(tmp_path: Path) -> None:
    data = initialised(tmp_path)
    web = json.loads(cli("--data-dir", data, "sources", "create", "Web", "--json").stdout)
    roles = ("--role", "source-admin:web,webhook-prod", "--role", "unify-read-only")
    made = cli("--data-dir", data, "tokens", "create", "--name", "web", *roles, "--json")
    assert made.returncode == 0, made.stderr
    token = json.loads(made.stdout)
    # The source's name (any case) is kept as its id; a destination's name as written.
    assert token["roles"] == [f"source-admin:{web['id']},webhook-prod", "unify-read-only"]
    assert token["pii_access"] is False
    dpo = ("--name", "dpo", "--role", "privacy-admin", "--pii-access", "--json")
    seeing = cli("--data-dir", data, "tokens", "create", *dpo)
    assert json.loads(seeing.stdout)["pii_access"] is True
    rows = {
        r["name"]: r for r in json.loads(cli("--data-dir", data, "tokens", "list", "--json").stdout)
    }
    assert rows["web"]["roles"] == token["roles"] and rows["dpo"]["roles"] == ["privacy-admin"]
    table = cli("--data-dir", data, "tokens", "list").stdout
    assert "unify-read-only" in table and "privacy-admin" in table

    rotated = cli("--data-dir", data, "tokens", "rotate", "web", "--json")
    assert rotated.returncode == 0, rotated.stderr
    new = json.loads(rotated.stdout)
    assert new["name"] == "web" and new["token"] != token["token"]
    store = SqlTokenStore(open_state(Settings(data_dir=Path(data))))
    assert authenticate(store, token["token"]) is None  # the old secret, at once
    found = authenticate(store, new["token"])
    assert found is not None and not found.pii_access
    assert [g.role for g in found.grants] == ["source-admin", "unify-read-only"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("create", "--name", "x", "--role", "admin"), "unknown role 'admin'; roles are "),
        (("create", "--name", "x", "--role", "workspace-owner:Web"), "cannot be scoped"),
        (("create", "--name", "x", "--role", "source-admin:"), "name at least one resource"),
        (("rotate", "nope"), "no token named 'nope'"),
    ],
)
def test_bad_roles_and_names_exit_2_with_one_line(
    tmp_path: Path, args: tuple[str, ...], says: str
) -> None:
    data = initialised(tmp_path)
    done = cli("--data-dir", data, "tokens", *args)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert says in line
    if "unknown role" in says:  # the valid slugs, so the next try is right
        assert "workspace-owner, source-admin, source-read-only" in line and "privacy-admin" in line
    assert json.loads(cli("--data-dir", data, "tokens", "list", "--json").stdout) == []
