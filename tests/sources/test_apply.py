"""`seamline apply` with a `webhook_sources:` section: a source becomes a webhook source with
a function defined in the same file, secret settings come from the environment and are sealed,
and applying the same file again changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from seamline.cli.commands import app
from seamline.errors import InvalidInput

WORKSPACE = """
functions:
  billing-in:
    code: |
      def on_request(request, settings):
          track(event="Paid", user_id=request.json()["user"])
webhook_sources:
  Billing:
    function: billing-in
    settings: {signing_secret: "${BILLING_SECRET}", currency: %s}
    secret_settings: [signing_secret]
"""


def seamline(data: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--data-dir", str(data), *args])


def test_apply_makes_and_updates_a_webhook_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BILLING_SECRET", "s3cret")
    data, file = tmp_path / "d", tmp_path / "workspace.yaml"
    seamline(data, "init")
    seamline(data, "sources", "create", "Billing")
    file.write_text(WORKSPACE % "EUR")
    first = seamline(data, "apply", "-f", str(file), "--yes")
    assert first.exit_code == 0, first.output
    assert "+ create webhook source 'Billing'" in first.output
    assert "URL path (shown once) /v1/webhooks/" in first.output
    again = seamline(data, "apply", "-f", str(file), "--yes")
    assert "no changes" in again.output
    file.write_text(WORKSPACE % "USD")
    changed = seamline(data, "apply", "-f", str(file), "--yes")
    assert "~ update webhook source 'Billing' (settings)" in changed.output
    shown = json.loads(seamline(data, "sources", "webhook", "Billing", "--json").stdout)
    assert shown["function"] == "billing-in"
    assert shown["settings"] == {"signing_secret": "[secret]", "currency": "USD"}


def test_a_wrong_definition_names_its_place(tmp_path: Path) -> None:
    data, file = tmp_path / "d", tmp_path / "workspace.yaml"
    seamline(data, "init")
    seamline(data, "sources", "create", "Billing")
    file.write_text("webhook_sources:\n  Billing: {function: missing}\n")
    refused = seamline(data, "apply", "-f", str(file), "--yes")
    error = refused.exception
    assert isinstance(error, InvalidInput)
    assert error.message.startswith("webhook_sources.Billing: no function 'missing'")
