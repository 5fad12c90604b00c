"""`seamline apply` with a `models:` section, then `seamline models list|run|runs`."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner, Result

from seamline.cli.commands import app
from seamline.errors import NotFound
from tests.reverse_etl.harness import plain_url

FILE = """
destinations:
  hook: {type: webhook}
models:
  customers:
    source: {type: postgres, url: "${RETL_TEST_URL}"}
    query: SELECT id, email FROM customers
    primary_key: id
    schedule: 1h
    subscriptions:
      crm:
        destination: hook
        action: send
        sync_mode: mirror
        mapping: {url: "https://hooks.example.com/in", data: {"@path": "$."}}
"""


def seamline(data: str, *args: str) -> Result:
    return CliRunner().invoke(app, ["--data-dir", data, *args])


def test_apply_list_run_and_runs_from_the_shell(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = plain_url(postgres_url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE customers (id integer PRIMARY KEY, email text)")
        conn.execute("INSERT INTO customers VALUES (1, 'a@x.io'), (2, 'b@x.io')")
    data = str(tmp_path / "d")
    assert seamline(data, "init").exit_code == 0
    monkeypatch.setenv("RETL_TEST_URL", url)
    file = tmp_path / "workspace.yaml"
    file.write_text(FILE)
    applied = seamline(data, "apply", "-f", str(file), "--yes")
    assert applied.exit_code == 0, applied.output
    assert "create model 'customers'" in applied.output

    listed = json.loads(seamline(data, "models", "list", "--json").output)
    assert [(m["name"], m["source"], m["schedule"], m["last_run"]) for m in listed] == [
        ("customers", "postgres", "1h", None)
    ]
    done = seamline(data, "models", "run", "customers", "--json")
    assert done.exit_code == 0, done.output
    run = json.loads(done.output)
    assert (run["status"], run["rows_read"], run["added"], run["queued"]) == ("succeeded", 2, 2, 2)
    runs = json.loads(seamline(data, "models", "runs", "customers", "--json").output)
    assert [r["id"] for r in runs] == [run["id"]]
    # main() prints such an error as one line and exits 2.
    assert isinstance(seamline(data, "models", "run", "nobody").exception, NotFound)
