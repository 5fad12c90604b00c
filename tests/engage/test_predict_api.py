"""Predictions through the management API: trained on the workspace's stored history, every
profile scored, the scores kept as trait values; thin histories refused with a reason."""

from __future__ import annotations

import pytest

from tests.engage.test_predictions import synthesise
from tests.protocols.conftest import Workspace

pytestmark = pytest.mark.anyio


async def test_a_prediction_scores_every_profile_into_a_trait(workspace: Workspace) -> None:
    history = synthesise(profiles=1_500, days=100, seed=3)
    try:
        events = history.conn.sql("SELECT * FROM events").to_arrow_table()
    finally:
        history.conn.close()
    workspace.app.event_store.load(events)

    spec = {"key": "likely_to_buy", "kind": "likelihood", "event": "Order Completed"}
    answer = await workspace.client.post(
        "/api/v1/predictions", json=spec, headers=workspace.headers
    )
    assert answer.status_code == 200, answer.text
    found = answer.json()
    print(found["text"])
    assert found["report"]["auc"] > found["report"]["baseline_auc"]
    assert found["scored"] == found["changed"] >= 1_400
    some = str(history.ids[0])
    ((value, version),) = workspace.app.engage_store.values("default", [some])[some].values()
    assert 0.0 <= value <= 1.0 and version == 1

    again = await workspace.client.post("/api/v1/predictions", json=spec, headers=workspace.headers)
    assert again.json()["changed"] == 0  # same history, same model: nothing to announce


async def test_a_thin_history_is_refused_with_what_is_missing(workspace: Workspace) -> None:
    spec = {"key": "likely_to_buy", "kind": "likelihood", "event": "Order Completed"}
    answer = await workspace.client.post(
        "/api/v1/predictions", json=spec, headers=workspace.headers
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid_input"
    bad = await workspace.client.post(
        "/api/v1/predictions", json={**spec, "kind": "magic"}, headers=workspace.headers
    )
    assert bad.status_code == 400 and "kind" in bad.json()["message"]
