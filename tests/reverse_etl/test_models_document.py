"""Saving a model: the document is checked (source, query, key, schedule, subscriptions against
their actions' fields) and its PostgreSQL URL is sealed, kept on re-save and shown hidden."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.fernet import Fernet

from seamline.access.sealing import HIDDEN, Sealer, is_sealed
from seamline.destinations.addresses import AddressPolicy
from seamline.errors import InvalidInput
from seamline.reverse_etl.models import destination_subscriptions, hidden_model, seal_model
from seamline.workspace.compiled import compile_rules
from seamline.workspace.kinds import normalise
from seamline.workspace.resources import Resource
from tests.reverse_etl.harness import LOOPBACK, customers_model

URL = "postgresql://u:p@db.example.com/crm"
LOOPBACK_ALLOWED = AddressPolicy.allowing(LOOPBACK)  # the mappings' URLs are the test sink's
DESTINATIONS: dict[str, dict[str, Any]] = {
    "hook": {"type": "webhook"},
    "chat": {"type": "slack"},
    "wh": {"type": "postgres-warehouse", "settings": {"database_url": "x"}},
}


def lookup(kind: str, name: str) -> dict[str, Any] | None:
    return DESTINATIONS.get(name) if kind == "destination" else None


def saved(document: dict[str, Any]) -> dict[str, Any]:
    return normalise("model", "customers", document, lookup, LOOPBACK_ALLOWED)


def test_a_model_is_stored_with_its_defaults_and_records_spelled_out() -> None:
    stored = saved(customers_model(URL))
    assert stored["schedule"] == "manual" and stored["enabled"] is True
    assert (stored["max_rows"], stored["timeout_seconds"]) == (1_000_000, 300.0)
    assert stored["subscriptions"]["mirror"]["records"] == ["added", "updated", "deleted"]
    assert stored["subscriptions"]["upsert"]["records"] == ["added", "updated"]
    # A field the mapping leaves out keeps its default mapping, as destination subscriptions do.
    assert stored["subscriptions"]["mirror"]["mapping"]["method"] == "POST"
    assert saved(stored) == stored  # canonical: saving it again is no change
    compiled = destination_subscriptions({"customers": stored})
    assert compiled["model:customers/mirror"]["trigger"] == "false"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"schedule": "61 * * * *"}, "'61' is not a minute (0-59)"),
        ({"schedule": "0 0 31 2 *"}, "names no time that exists"),
        ({"schedule": "every hour"}, "a cron expression of 5 fields"),
        ({"schedule": "30s"}, "a cron expression of 5 fields"),
        ({"primary_key": ""}, "primary_key"),
        ({"query": " "}, "write one SELECT"),
        ({"max_rows": 0}, "max_rows must be 1 to 10,000,000"),
        ({"source": {"type": "warehouse", "destination": "hook"}}, "cannot be read"),
        ({"source": {"type": "warehouse", "destination": "none"}}, "no destination named"),
        ({"source": {"type": "postgres", "url": "mysql://x"}}, "write postgresql://"),
        ({"source": {"type": "events", "url": URL}}, "takes no settings"),
        ({"source": {"type": "mysql"}}, "Invalid enum value 'mysql'"),
        ({"subscriptions": {"s": {"destination": "nope", "action": "send"}}}, "'nope'"),
        (
            {
                "subscriptions": {
                    "s": {"destination": "hook", "action": "send", "mapping": {"x": 1}}
                }
            },
            "subscriptions.s: mapping.x: the action has no field 'x'",
        ),
        (
            {"subscriptions": {"s": {"destination": "hook", "action": "send", "records": []}}},
            "name at least one of added, updated, deleted",
        ),
        (
            {"subscriptions": {"s": {"destination": "hook", "action": "x", "sync_mode": "mirror"}}},
            "Webhook has no action 'x'",
        ),
        (
            {
                "subscriptions": {
                    "s": {
                        "destination": "hook",
                        "action": "send",
                        "mapping": {"url": "http://10.0.0.1/x"},
                    }
                }
            },
            "is not allowed",
        ),
    ],
)
def test_a_bad_model_is_refused_with_the_reason(change: dict[str, Any], error: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        saved({**customers_model(URL), **change})
    assert error in refused.value.message


@pytest.mark.parametrize("name", ["a/b", "x" * 101])
def test_a_model_name_fits_the_subscription_names_it_makes(name: str) -> None:
    with pytest.raises(InvalidInput, match="no '/'"):
        normalise("model", name, customers_model(URL), lookup, LOOPBACK_ALLOWED)


def test_the_url_is_sealed_kept_when_sent_again_or_hidden_and_shown_hidden() -> None:
    sealer = Sealer(Fernet.generate_key())
    first = seal_model(saved(customers_model(URL)), None, sealer)
    assert is_sealed(first["source"]["url"]) and URL not in str(first)
    assert sealer.unseal(first["source"]["url"]) == URL
    assert seal_model(saved(customers_model(URL)), first, sealer) == first
    assert seal_model(saved(customers_model(HIDDEN)), first, sealer) == first
    assert hidden_model(first)["source"]["url"] == HIDDEN
    other = seal_model(saved(customers_model(URL + "2")), first, sealer)
    assert sealer.unseal(other["source"]["url"]) == URL + "2"
    with pytest.raises(InvalidInput, match="no stored URL"):
        seal_model(saved(customers_model(HIDDEN)), None, sealer)


def test_events_are_not_routed_to_a_models_subscriptions_which_are_delivered() -> None:
    now = datetime.now(UTC)
    found = [
        Resource(kind="destination", name=name, document=doc, version=1, updated_at=now)
        for name, doc in DESTINATIONS.items()
        if name != "chat"
    ]
    model = saved(
        customers_model(
            URL,
            subscriptions={
                "crm": {
                    "destination": "hook",
                    "action": "send",
                    "mapping": {"url": "https://x.io/in"},
                }
            },
        )
    )
    found.append(
        Resource(kind="model", name="customers", document=model, version=1, updated_at=now)
    )
    rules = compile_rules(1, found, {}, lambda *_: None)  # type: ignore[arg-type]
    assert rules.destinations["hook"].subscriptions == []
    assert [s.name for s in rules.deliverable["hook"].subscriptions] == ["model:customers/crm"]
    assert [s.name for s in rules.erasable["hook"].subscriptions] == ["model:customers/crm"]
