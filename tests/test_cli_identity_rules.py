"""`seamline identity rules show|set|preview|apply`: drafts, bad files in one line with exit 2,
applying makes a version the one in force."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_cli import cli, initialised

BAD = [
    ("a tab", "identity:\n  types:\n\tphone: {limit: 2}\n", "never tabs"),
    ("a limit of 0", "types:\n  phone: {limit: 0}\n", "types.phone.limit: 0 is out of range"),
]


@pytest.mark.parametrize(("_case", "text", "message"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_file_is_one_line_and_exit_2(
    tmp_path: Path, _case: str, text: str, message: str
) -> None:
    data = initialised(tmp_path)
    (tmp_path / "rules.yaml").write_text(text)
    done = cli("--data-dir", data, "identity", "rules", "set", str(tmp_path / "rules.yaml"))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and message in done.stderr
    shown = json.loads(cli("--data-dir", data, "identity", "rules", "show", "--json").stdout)
    assert [v["version"] for v in shown["versions"]] == [1]  # nothing saved


def test_set_preview_and_apply_a_version(tmp_path: Path) -> None:
    data = initialised(tmp_path)
    (tmp_path / "workspace.yaml").write_text(
        "identity:\n  types:\n    phone: {priority: 3, limit: 2}\n"
        "  custom: [{name: crm, path: properties.crm}]\n"
    )
    saved = cli(
        "--data-dir", data, "identity", "rules", "set", str(tmp_path / "workspace.yaml"), "--json"
    )
    assert saved.returncode == 0, saved.stderr
    assert json.loads(saved.stdout) == {"version": 2, "state": "draft"}
    preview = cli("--data-dir", data, "identity", "rules", "preview", "2", "--json")
    assert preview.returncode == 0, preview.stderr
    assert json.loads(preview.stdout)["merges"] == 0  # no history yet
    applied = cli("--data-dir", data, "identity", "rules", "apply", "2")
    assert applied.returncode == 0, applied.stderr
    assert "version 2 is in force" in applied.stdout
    shown = json.loads(cli("--data-dir", data, "identity", "rules", "show", "--json").stdout)
    assert shown["active"]["version"] == 2
    assert shown["active"]["document"]["types"] == {"phone": {"priority": 3, "limit": 2}}
    assert [v["state"] for v in shown["versions"]] == ["active", "superseded"]
    table = cli("--data-dir", data, "identity", "rules", "show").stdout
    # The table shows every type in force, defaults included, with the new rule for phone.
    phone = next(line for line in table.splitlines() if " phone " in line)
    assert [cell.strip() for cell in phone.split("│")[2:4]] == ["3", "2"]
    assert any(" user_id " in line for line in table.splitlines())
    again = cli("--data-dir", data, "identity", "rules", "apply", "2")
    assert again.returncode == 2 and "is active already" in again.stderr


def test_seamline_apply_saves_the_identity_section_as_a_draft_once(tmp_path: Path) -> None:
    data = initialised(tmp_path)
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text("identity:\n  types:\n    phone: {limit: 0}\n")
    bad = cli("--data-dir", data, "apply", "-f", str(workspace), "--yes")
    assert bad.returncode == 2 and "identity.types.phone.limit: 0 is out of range" in bad.stderr
    workspace.write_text("identity:\n  types:\n    phone: {limit: 2}\n")
    planned = cli("--data-dir", data, "apply", "-f", str(workspace), "--dry-run")
    assert planned.returncode == 0, planned.stderr
    assert "~ update identity rules" in planned.stdout and "+  phone:" in planned.stdout
    done = cli("--data-dir", data, "apply", "-f", str(workspace), "--yes")
    assert done.returncode == 0, done.stderr
    assert "seamline identity rules apply 2" in done.stdout
    again = cli("--data-dir", data, "apply", "-f", str(workspace), "--yes")
    assert "no changes" in again.stdout
    shown = json.loads(cli("--data-dir", data, "identity", "rules", "show", "--json").stdout)
    assert [(v["version"], v["state"]) for v in shown["versions"]] == [(2, "draft"), (1, "active")]
