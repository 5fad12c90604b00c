"""`seamline regulations create|list|show` and `seamline suppressions`: what a newcomer types,
right and wrong."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_cli import cli


def test_create_list_and_show_with_json_and_a_file_of_ids(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    assert cli("--data-dir", data, "init").returncode == 0
    ids = tmp_path / "ids.txt"
    ids.write_text("amy@example.org\n\n  ben@example.org  \n")
    made = cli(
        "--data-dir",
        data,
        "regulations",
        "create",
        "--type",
        "suppress_only",
        "--subject-type",
        "email",
        "--ids-file",
        str(ids),
        "--json",
    )
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    assert created["overallStatus"] == "FINISHED"
    assert created["subjectIds"] == ["amy@example.org", "ben@example.org"]
    deleting = cli(
        "--data-dir", data, "regulations", "create", "--type", "DELETE_ONLY", "u-1", "--json"
    )
    assert deleting.returncode == 0, deleting.stderr
    pending = json.loads(deleting.stdout)
    assert pending["overallStatus"] == "INITIALIZED"  # the server's pipeline runs it
    listed = json.loads(cli("--data-dir", data, "regulations", "list", "--json").stdout)
    assert [r["id"] for r in listed] == [pending["id"], created["id"]]
    shown = cli("--data-dir", data, "regulations", "show", created["id"])
    assert shown.returncode == 0 and "FINISHED" in shown.stdout
    added = cli("--data-dir", data, "suppressions", "add", "email:cat@example.org")
    assert added.returncode == 0, added.stderr
    counted = cli("--data-dir", data, "suppressions", "list", "--json")
    assert json.loads(counted.stdout) == {"*": 3}
    trail = cli("--data-dir", data, "audit", "list", "--json")
    assert trail.returncode == 0, trail.stderr
    assert trail.stdout.count("regulation.create") == 3
    assert "amy@example.org" not in trail.stdout  # the trail never names the person


def test_mistakes_get_one_line_and_exit_code_2(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    assert cli("--data-dir", data, "init").returncode == 0
    for args in (
        ["regulations", "create", "u-1"],  # no --type
        ["regulations", "create", "--type", "FORGET", "u-1"],
        ["regulations", "create", "--type", "SUPPRESS_ONLY"],  # no ids
        ["regulations", "create", "--type", "SUPPRESS_ONLY", "--subject-type", "EMAIL", "x"],
        ["regulations", "create", "--type", "SUPPRESS_ONLY", "--ids-file", "/nope/ids"],
        ["regulations", "create", "--type", "SUPPRESS_ONLY", "--source", "nope", "u-1"],
        ["regulations", "show", "reg_nope"],
        ["suppressions", "add", "phone:+4915112345678"],
    ):
        answer = cli("--data-dir", data, *args)
        assert answer.returncode == 2, (args, answer.stdout, answer.stderr)
        assert len(answer.stderr.strip().splitlines()) == 1, answer.stderr
    listed = json.loads(cli("--data-dir", data, "regulations", "list", "--json").stdout)
    assert listed == []  # nothing was stored by a mistake
