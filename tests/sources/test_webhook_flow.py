"""Webhook sources end to end, in process: a tool's documented body posted to the source's
secret URL becomes Segment messages in the event store, through the source function; a request
the function refuses is held with the reason, never lost, and runs again once fixed."""

from __future__ import annotations

import base64

import pytest

from seamline.access.principal import Grant
from seamline.access.tokens import create_token
from tests.sources.conftest import Hooks, fixture, stripe_signature

pytestmark = pytest.mark.anyio

SECRET = "whsec_test_secret"


async def test_a_stripe_body_becomes_identify_and_track_messages(hooks: Hooks) -> None:
    made = await hooks.webhook_source(
        "Stripe", template="stripe", settings={"signing_secret": SECRET}
    )
    assert made["settings"] == {"signing_secret": "[secret]"}
    assert made["function"] == "stripe-webhook"
    for name in ("customer.created.json", "checkout.session.completed.json"):
        body = fixture(f"stripe/{name}")
        answer = await hooks.client.post(
            made["url_path"],
            content=body,
            headers={
                "Content-Type": "application/json",
                "Stripe-Signature": stripe_signature(body, SECRET),
            },
        )
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"success": True}
    await hooks.settle()
    stored = hooks.stored()
    customer = stored["stripe-evt_1NG8Du2eZvKYlo2CUI79vXWy-0"]
    assert customer["type"] == "identify"
    assert customer["userId"] == "cus_NffrFeUfNV2Hib"
    assert customer["traits"]["email"] == "jennyrosen@example.com"
    assert customer["traits"]["name"] == "Jenny Rosen"
    order = stored["stripe-evt_1NG8Du2eZvKYlo2CcheckoutA-1"]
    assert order["event"] == "Order Completed"
    assert order["userId"] == "user_42"  # from the session's metadata
    assert order["properties"]["total"] == 21.98
    assert order["properties"]["currency"] == "USD"
    assert order["properties"]["order_id"] == "pi_3MtwBwLkdIwHu7ix28a3tqPa"
    assert {m["source_id"] for m in stored.values()} == {made["source_id"]}
    assert hooks.held() == []


async def test_a_bad_signature_is_held_with_the_reason_and_reruns_once_fixed(
    hooks: Hooks,
) -> None:
    made = await hooks.webhook_source(
        "Stripe", template="stripe", settings={"signing_secret": "whsec_other"}
    )
    body = fixture("stripe/charge.succeeded.json")
    headers = {"Stripe-Signature": stripe_signature(body, SECRET)}
    answer = await hooks.client.post(made["url_path"], content=body, headers=headers)
    assert answer.status_code == 200  # accepted: durable in the log before the function runs
    await hooks.settle()
    assert hooks.stored() == {}
    [held] = hooks.held()
    assert held.disposition == "function_error"
    assert "Stripe-Signature does not match" in held.reason
    # Someone without PII access sees that it is held and why, not the customer in its body.
    _, secret = create_token(
        hooks.app.tokens, "default", "plans", (Grant(role="tracking-plan-read-only"),)
    )
    shown = await hooks.client.get("/api/v1/held", headers={"Authorization": f"Bearer {secret}"})
    [seen] = shown.json()["data"]
    assert "Stripe-Signature does not match" in seen["reason"]
    assert seen["message"]["properties"]["body"] == "[masked]"
    assert "ch_3MmlLrLkdIwHu7ix0snN0B15" not in shown.text  # nothing of the body shows
    # With PII access (the owner's token) the body is there to debug the function.
    full = await hooks.client.get("/api/v1/held", headers=hooks.headers)
    assert "ch_3MmlLrLkdIwHu7ix0snN0B15" in full.text
    # The right secret, then a re-run: the same request now emits its message.
    fixed = await hooks.client.put(
        "/api/v1/sources/Stripe/webhook",
        json={"settings": {"signing_secret": SECRET}},
        headers=hooks.headers,
    )
    assert fixed.status_code == 200, fixed.text
    rerun = await hooks.client.post(
        "/api/v1/held/rerun", json={"source": made["source_id"]}, headers=hooks.headers
    )
    assert rerun.json() == {"rerun": 1}
    await hooks.settle()
    payment = hooks.stored()["stripe-evt_3MmlLrLkdIwHu7ix0Ua6Zi1C-0"]
    assert payment["event"] == "Payment Succeeded"
    assert payment["properties"]["revenue"] == 10.99


async def test_form_bodies_reach_the_function_by_write_key(hooks: Hooks) -> None:
    await hooks.function(
        "form-echo",
        "def on_request(request, settings):\n"
        "    fields = request.form()\n"
        "    track(event='Form Sent', user_id=fields['user'], properties=fields)\n",
    )
    made = await hooks.webhook_source("Forms", function="form-echo")
    basic = base64.b64encode(f"{made['write_key']}:".encode()).decode()
    answer = await hooks.client.post(
        "/v1/sources/Forms/webhook?writeKey=dropped",
        content="user=u-7&plan=pro+annual",
        headers={
            "Authorization": f"Basic {basic}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert answer.status_code == 200, answer.text
    await hooks.settle()
    [sent] = hooks.stored().values()
    assert sent["userId"] == "u-7"
    assert sent["properties"] == {"user": "u-7", "plan": "pro annual"}


async def test_function_failures_are_held_with_their_reasons(hooks: Hooks) -> None:
    await hooks.function(
        "picky",
        "def on_request(request, settings):\n"
        "    kind = request.json()['kind']\n"
        "    if kind == 'raise':\n"
        "        raise ValueError('no such order')\n"
        "    if kind == 'garbage':\n"
        "        track(event='', user_id='u1')\n"
        "    if kind == 'slow':\n"
        "        while True:\n"
        "            pass\n"
        "    track(event='Fine', user_id='u1')\n",
        time_limit=0.3,
    )
    made = await hooks.webhook_source("Picky", function="picky")
    for kind in ("raise", "garbage", "slow", "fine"):
        answer = await hooks.client.post(made["url_path"], json={"kind": kind})
        assert answer.status_code == 200
    await hooks.settle()
    reasons = sorted(h.reason for h in hooks.held())
    assert len(reasons) == 3
    assert any("ValueError: no such order" in r for r in reasons)
    assert any("timeout" in r for r in reasons)
    assert any("invalid" in r for r in reasons)
    assert [m["event"] for m in hooks.stored().values()] == ["Fine"]


async def test_refusals_are_json_that_says_what_to_do(hooks: Hooks) -> None:
    made = await hooks.webhook_source("Stripe", template="stripe")
    unknown = await hooks.client.post("/v1/webhooks/not-a-token", json={})
    assert unknown.status_code == 404
    assert "token may have been rotated" in unknown.json()["message"]
    big = await hooks.client.post(made["url_path"], content=b"x" * (512 * 1024 + 1))
    assert big.status_code == 413
    assert big.json()["code"] == "payload_too_large"
    escaped = await hooks.client.post(made["url_path"], content=b"\x01" * (200 * 1024))
    assert escaped.status_code == 413  # 200 KiB that take 1.2 MB as JSON text
    crowded = await hooks.client.post(
        made["url_path"], content=b"{}", headers={f"x-h{i}": "1" for i in range(120)}
    )
    assert crowded.status_code == 431
    got = await hooks.client.get(made["url_path"])
    assert got.status_code == 405
    no_key = await hooks.client.post("/v1/sources/Stripe/webhook", json={})
    assert no_key.status_code == 401
    assert "/v1/webhooks/<token>" in no_key.json()["message"]
    # A rotated token: the old URL stops, the new one works.
    rotated = await hooks.client.post(
        "/api/v1/sources/Stripe/webhook/rotate-token", headers=hooks.headers
    )
    new_path = rotated.json()["data"]["url_path"]
    assert new_path != made["url_path"]
    old = await hooks.client.post(made["url_path"], json={})
    assert old.status_code == 404
    assert (await hooks.client.post(new_path, json={})).status_code == 200
