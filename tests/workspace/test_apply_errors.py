"""Every `apply` error starts with the place in the file it is about, down to the field when
the error knows it: `subscriptions.hook-orders.mapping.url: …`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine

from seamline.access.sealing import Sealer, key_from
from seamline.collect.sources import new_source
from seamline.errors import SeamlineError
from seamline.store.resources_sql import SqlResourceStore
from seamline.workspace.apply import desired, source_ids
from seamline.workspace.saving import prepare

HOOK = "destinations: {hook: {type: webhook}}\n"
CASES = [
    # (what is wrong, file, the error's start)
    (
        "a subscription's URL is refused",
        HOOK + "subscriptions: {hook-orders: {destination: hook, action: send, "
        "mapping: {url: 'file:///etc/passwd'}}}",
        "subscriptions.hook-orders.mapping.url: 'file:///etc/passwd' is not allowed",
    ),
    (
        "a mapping directive is unknown",
        HOOK + "subscriptions: {hook-orders: {destination: hook, action: send, "
        "mapping: {url: {'@nope': 1}}}}",
        "subscriptions.hook-orders.mapping.url: unknown directive @nope",
    ),
    (
        "a subscription names no destination",
        "subscriptions: {s: {destination: nope, action: send}}",
        "subscriptions.s: no destination named 'nope'",
    ),
    (
        "a trigger does not parse",
        HOOK + "subscriptions: {s: {destination: hook, action: send, trigger: 'event ='}}",
        "subscriptions.s: expected a value after '='",
    ),
    (
        "a plan field has a mistyped type",
        "tracking_plans: {Shop: {events: {A: {properties: {x: numbr}}}}}",
        'tracking_plans.Shop.events.A.properties.x: unknown type "numbr"',
    ),
    (
        "a source is unknown",
        "sources: {Nowhere: {}}",
        "sources.Nowhere: no source named 'Nowhere'",
    ),
    (
        "a schema control has a bad value",
        "sources: {Website: {schema_controls: {unplanned_events: maybe}}}",
        "sources.Website.schema_controls.unplanned_events: Invalid enum value 'maybe'",
    ),
    (
        "a transformation names an unknown source",
        "transformations: {t: {kind: drop_event, sources: [Nope]}}",
        "transformations.t.sources: no source named 'Nope'",
    ),
    (
        "a transformation lacks a parameter",
        "transformations: {t: {kind: cast}}",
        "transformations.t: kind cast needs property, cast",
    ),
    (
        "a function does not compile",
        "functions: {tag: {code: 'def transform(event): return (', time_limit: 1}}",
        "functions.tag: syntax error on line 1",
    ),
    (
        "a function file is missing",
        "functions: {tag: {file: missing.py}}",
        "functions.tag.file: cannot read function file",
    ),
    (
        "a PII matcher's regex is broken",
        "pii: {matchers: {m: {kind: k, classification: red, name_regex: '('}}}",
        "pii.matchers.m: bad regular expression '('",
    ),
    (
        "a consent category's destinations are not a list",
        "consent: {categories: {Ads: {destinations: 5}}}",
        "consent.categories.Ads.destinations: Expected `array`, got `int`",
    ),
    (
        "a destination has an unknown setting",
        "destinations: {hook: {type: webhook, settings: {nope: 1}}}",
        "destinations.hook: Webhook has no setting 'nope'",
    ),
    (
        "a secret's environment variable is not set",
        "destinations: {meta: {type: meta-conversions-api, "
        "settings: {pixel_id: '1', access_token: '${SEAMLINE_TEST_UNSET}'}}}",
        "destinations.meta.settings.access_token: environment variable SEAMLINE_TEST_UNSET",
    ),
    (
        "an audience has an unknown field",
        "audiences: {buyers: {conditions: {}}}",
        "audiences.buyers: unknown field 'conditions'",
    ),
]


@pytest.mark.parametrize(("case", "content", "start"), CASES)
def test_an_apply_error_names_its_place_in_the_file(
    engine: Engine, tmp_path: Path, case: str, content: str, start: str
) -> None:
    store = SqlResourceStore(engine)
    sealer = Sealer(key_from(None, tmp_path))

    def save(kind: str, name: str, spec: dict[str, Any], pending: Any) -> dict[str, Any]:
        return prepare("default", kind, name, spec, store, sealer, pending)

    known = [new_source("Website", "default")]
    with pytest.raises(SeamlineError) as failed:
        desired(yaml.safe_load(content), tmp_path, source_ids(known, "default"), save)
    assert failed.value.message.startswith(start), case
    assert str(failed.value) == failed.value.message
    assert store.list("default") == []
