"""`seamline apply` (workspace as code), `violations`, `held` and `inventory` from the shell."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import Server
from tests.test_cli import cli

WORKSPACE = """
tracking_plans:
  Shop:
    events:
      Order Completed:
        properties:
          order_id: {type: string, required: true}
          total: {type: number}
sources:
  Website:
    tracking_plan: Shop
    schema_controls: {unplanned_events: quarantine}
transformations:
  fix-name:
    kind: rename_event
    events: [order_completed]
    to: Order Completed
    sources: [Website]
functions:
  tag: {file: tag.py, time_limit: 2}
pii:
  controls:
    hash-emails: {kind: email, control: hash_plain, destinations: [meta]}
consent:
  categories:
    Advertising: {destinations: [meta]}
"""


def workspace_dir(tmp_path: Path) -> tuple[str, Path]:
    data = str(tmp_path / "data")
    assert cli("--data-dir", data, "init").returncode == 0
    made = cli("--data-dir", data, "sources", "create", "Website", "--json")
    assert made.returncode == 0, made.stderr
    (tmp_path / "tag.py").write_text("def transform(event):\n    return event\n")
    file = tmp_path / "workspace.yaml"
    file.write_text(WORKSPACE)
    return data, file


def test_apply_shows_the_changes_applies_them_once_and_prunes(tmp_path: Path) -> None:
    data, file = workspace_dir(tmp_path)
    dry = cli("--data-dir", data, "apply", "-f", str(file), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "+ create tracking_plan 'Shop'" in dry.stdout
    assert "+ create function 'tag'" in dry.stdout
    assert "6 change(s)" in dry.stdout
    refused = cli("--data-dir", data, "apply", "-f", str(file))  # no tty: the prompt says no
    assert refused.returncode == 1
    applied = cli("--data-dir", data, "apply", "-f", str(file), "--yes")
    assert applied.returncode == 0, applied.stderr
    assert "applied 6 change(s)" in applied.stdout
    again = cli("--data-dir", data, "apply", "-f", str(file), "--yes")
    assert "no changes" in again.stdout
    file.write_text(WORKSPACE.replace("total: {type: number}", "total: {type: integer}"))
    changed = cli("--data-dir", data, "apply", "-f", str(file), "--dry-run")
    assert "~ update tracking_plan 'Shop'" in changed.stdout
    assert "-" in changed.stdout and "integer" in changed.stdout
    file.write_text("tracking_plans: {}\n")
    pruned = cli("--data-dir", data, "apply", "-f", str(file), "--yes", "--prune")
    assert "- delete consent_category 'Advertising'" in pruned.stdout
    assert "applied 6 change(s)" in pruned.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("tracking_plans: {Shop: {events: {A: {properties: {x: numbr}}}}}", "unknown type"),
        ("sources: {Nowhere: {}}", "no source named 'Nowhere'"),
        ("journeys: {}", "unknown section 'journeys'"),
        ("transformations: {t: {kind: drop_event, where: 'event ='}}", "column"),
        ("tracking_plans: [", "not valid YAML"),
    ],
)
def test_a_bad_file_is_one_line_and_exit_2_and_changes_nothing(
    tmp_path: Path, content: str, message: str
) -> None:
    data, file = workspace_dir(tmp_path)
    file.write_text(content)
    done = cli("--data-dir", data, "apply", "-f", str(file), "--yes")
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    file.write_text("")
    assert "no changes" in cli("--data-dir", data, "apply", "-f", str(file)).stdout


@pytest.mark.slow
def test_violations_held_and_inventory_of_a_running_server(tmp_path: Path) -> None:
    data, file = workspace_dir(tmp_path)
    assert cli("--data-dir", data, "apply", "-f", str(file), "--yes").returncode == 0
    with Server(Path(data)) as server:
        key = json.loads(cli("--data-dir", data, "sources", "list", "--json").stdout)
        website = next(s for s in key if s["name"] == "Website")
        batch = [
            {
                "type": "track",
                "userId": "u",
                "event": "order_completed",
                "properties": {"order_id": "o1", "total": "x", "email": "a@b.co"},
                "messageId": "m1",
            },
            {"type": "track", "userId": "u", "event": "Wishlist Opened", "messageId": "m2"},
        ]
        answer = httpx.post(
            f"{server.url}/v1/batch", json={"batch": batch}, auth=(website["write_key"], "")
        )
        assert answer.status_code == 200
        for _ in range(200):
            found = cli("--data-dir", data, "violations", "--source", "Website", "--json")
            if found.returncode == 0 and len(json.loads(found.stdout)) >= 2:
                break
            time.sleep(0.1)
        violations = json.loads(found.stdout)
        assert {(v["path"], v["rule"]) for v in violations} == {
            ("properties.total", "type"),
            ("event", "unplanned_event"),
        }
        summary = cli("--data-dir", data, "violations", "--source", "Website", "--summary")
        assert "Order Completed" in summary.stdout and "unplanned_event" in summary.stdout
        held = json.loads(cli("--data-dir", data, "held", "list", "--json").stdout)
        assert [(h["message_id"], h["disposition"]) for h in held] == [("m2", "quarantine")]
        inventory = json.loads(cli("--data-dir", data, "inventory", "--json").stdout)
        assert {"properties.email", "properties.total"} <= {row["path"] for row in inventory}
        # While serving, a re-run appends to a log partition of its own (issue 12).
        served = cli("--data-dir", data, "held", "rerun")
        assert served.returncode == 0 and "1 message(s)" in served.stdout, served.stderr
    unknown = cli("--data-dir", data, "violations", "--source", "Nope")
    assert unknown.returncode == 2 and "no source named 'Nope'" in unknown.stderr
    # Still quarantined by the same plan, the re-run was held again: stopped, it re-runs too.
    again = cli("--data-dir", data, "held", "rerun")
    assert again.returncode == 0 and "1 message(s)" in again.stdout, again.stdout


DESTINATIONS = """
destinations:
  hook:
    type: webhook
    settings: {shared_secret: "${HOOK_SECRET}"}
subscriptions:
  hook-orders:
    destination: hook
    action: send
    trigger: 'event = "Order Completed"'
    mapping: {url: "https://hooks.example.com/hook"}
"""


def test_apply_destinations_with_secrets_from_the_environment(tmp_path: Path) -> None:
    data, file = workspace_dir(tmp_path)
    file.write_text(DESTINATIONS)
    unset = cli("--data-dir", data, "apply", "-f", str(file), "--yes")
    assert unset.returncode == 2 and "HOOK_SECRET is not set" in unset.stderr
    env = {"HOOK_SECRET": "s3cret-value"}
    applied = cli("--data-dir", data, "apply", "-f", str(file), "--yes", env=env)
    assert applied.returncode == 0, applied.stderr
    assert "+ create destination 'hook'" in applied.stdout
    assert "+ create subscription 'hook-orders'" in applied.stdout
    again = cli("--data-dir", data, "apply", "-f", str(file), "--yes", env=env)
    assert "no changes" in again.stdout  # the sealed secret is unchanged, so no update
    rotated = cli(
        "--data-dir", data, "apply", "-f", str(file), "--dry-run", env={"HOOK_SECRET": "new"}
    )
    assert "~ update destination 'hook'" in rotated.stdout
    assert "s3cret-value" not in rotated.stdout and "new" not in rotated.stdout.split("update")[1]
    state = (Path(data) / "state.db").read_bytes()
    assert b"s3cret-value" not in state
    status = json.loads(cli("--data-dir", data, "destinations", "status", "--json").stdout)
    assert status == {"counts": [], "pending": {}, "dead_letters": 0}
    catalog = json.loads(cli("--data-dir", data, "destinations", "catalog", "--json").stdout)
    assert {"webhook", "meta-conversions-api", "postgres-warehouse"} <= {d["slug"] for d in catalog}
