"""`seamline sources create --type webhook` and `seamline sources webhook`: a template's
function and sealed settings, the URL shown once; refused options create nothing. Run in
process (each `seamline` process start costs seconds on a busy machine)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner, Result

from seamline.cli.commands import app
from seamline.errors import InvalidInput


def seamline(data: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--data-dir", str(data), *args])


def test_a_webhook_source_from_the_stripe_template(tmp_path: Path) -> None:
    data = tmp_path / "d"
    assert seamline(data, "init").exit_code == 0
    made = seamline(
        data, "sources", "create", "Stripe", "--type", "webhook", "--template", "stripe",
        "--secret-setting", "signing_secret=whsec_abc", "--json",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    webhook = json.loads(made.stdout)["webhook"]
    assert webhook["function"] == "stripe-webhook"
    assert webhook["settings"] == {"signing_secret": "[secret]"}
    assert webhook["url_path"].startswith("/v1/webhooks/")
    shown = seamline(data, "sources", "webhook", "Stripe", "--setting", "tolerance_seconds=60", "--json")  # fmt: skip
    assert shown.exit_code == 0, shown.output
    after = json.loads(shown.stdout)
    assert after["settings"] == {"signing_secret": "[secret]", "tolerance_seconds": "60"}
    assert "url_path" not in after  # the token is shown only when made or rotated
    rotated = json.loads(seamline(data, "sources", "webhook", "Stripe", "--rotate-token", "--json").stdout)  # fmt: skip
    assert rotated["url_path"] != webhook["url_path"]
    for stored in data.glob("state.db*"):  # the secret is sealed, in the WAL too
        assert b"whsec_abc" not in stored.read_bytes()


def test_refused_options_create_nothing(tmp_path: Path) -> None:
    data = tmp_path / "d"
    assert seamline(data, "init").exit_code == 0
    unknown = seamline(data, "sources", "create", "X", "--type", "webhook", "--template", "nope")
    assert isinstance(unknown.exception, InvalidInput)  # main() prints it as one line, exit 2
    assert "unknown template 'nope'" in unknown.exception.message
    no_function = seamline(data, "sources", "create", "Y", "--type", "webhook", "--function", "f")
    assert "no function 'f'" in str(no_function.exception)
    wrong = seamline(data, "sources", "create", "Z", "--template", "stripe")
    assert "--type webhook" in str(wrong.exception)
    listed = json.loads(seamline(data, "sources", "list", "--json").stdout)
    assert {s["name"] for s in listed}.isdisjoint({"X", "Y", "Z"})
