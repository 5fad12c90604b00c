"""`seamline identity proposals list|accept|reject` and `seamline identity match`."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner, Result

from seamline.cli.commands import app
from seamline.config import Settings
from seamline.data_dir import open_state
from seamline.errors import Conflict, InvalidInput, NotFound
from tests.api.test_identity_matches import propose


def seamline(data: str, *args: str) -> Result:
    return CliRunner().invoke(app, ["--data-dir", data, *args])


def test_review_from_the_shell(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    assert seamline(data, "init").exit_code == 0
    engine = open_state(Settings(data_dir=tmp_path / "d"))
    try:
        ada, other = propose(engine)
    finally:
        engine.dispose()
    listed = seamline(data, "identity", "proposals", "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert [(p["id"], p["status"]) for p in json.loads(listed.output)] == [
        (ada, "pending"),
        (other, "pending"),
    ]
    table = seamline(data, "identity", "proposals", "list")
    assert "email: jaro_winkler>=0.88" in table.output

    accepted = seamline(data, "identity", "proposals", "accept", str(ada), "--json")
    assert accepted.exit_code == 0, accepted.output
    done = json.loads(accepted.output)
    assert done["status"] == "merged"
    history = json.loads(
        seamline(data, "profiles", "merge-history", "user_id:ada", "--json").output
    )
    assert [(m["merge_id"], m["kind"], m["score"]) for m in history] == [
        (done["merge_id"], "manual", 0.97)
    ]

    assert seamline(data, "identity", "proposals", "reject", str(other)).exit_code == 0
    rejected = seamline(data, "identity", "proposals", "list", "--status", "rejected", "--json")
    assert [p["decided_by"] for p in json.loads(rejected.output)] == ["cli"]
    assert isinstance(
        seamline(data, "identity", "proposals", "reject", str(other)).exception, Conflict
    )
    assert isinstance(seamline(data, "identity", "proposals", "accept", "999").exception, NotFound)
    bad = seamline(data, "identity", "proposals", "list", "--status", "maybe")
    assert isinstance(bad.exception, InvalidInput)
    # Matching is off until the identity rules turn it on.
    off = seamline(data, "identity", "match")
    assert isinstance(off.exception, InvalidInput) and "matching is off" in str(off.exception)
