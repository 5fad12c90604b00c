"""The Tracking API over HTTP: auth, bodies, limits and answers as Segment gives them."""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seamline.collect.sources import new_source
from tests.collect.conftest import CLIENT_IP, Running
from tests.e2e.stored import stored_events

pytestmark = pytest.mark.anyio

TRACK = {"userId": "u1", "event": "Signed Up", "properties": {"plan": "pro"}}


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


async def stop_and_read(running: Running) -> list[dict[str, Any]]:
    await running.app.stop()
    return stored_events(running.data_dir)


ENDPOINTS = [
    ("/v1/identify", "identify", {"userId": "u1", "traits": {"email": "a@example.com"}}),
    ("/v1/track", "track", TRACK),
    ("/v1/page", "page", {"anonymousId": "a1", "name": "Home"}),
    ("/v1/screen", "screen", {"userId": "u1", "name": "Settings"}),
    ("/v1/group", "group", {"userId": "u1", "groupId": "acme"}),
    ("/v1/alias", "alias", {"userId": "u1", "previousId": "a1"}),
    ("/v1/i", "identify", {"userId": "u1"}),
    ("/v1/t", "track", TRACK),
    ("/v1/p", "page", {"anonymousId": "a1"}),
    ("/v1/s", "screen", {"anonymousId": "a1"}),
    ("/v1/g", "group", {"anonymousId": "a1", "groupId": "g"}),
    ("/v1/a", "alias", {"userId": "u1", "previousId": "a1"}),
    ("/v1/track/", "track", TRACK),
]


@pytest.mark.parametrize(("path", "kind", "body"), ENDPOINTS)
async def test_each_endpoint_stores_its_message_type(
    running: Running, path: str, kind: str, body: dict[str, Any]
) -> None:
    answer = await running.client.post(path, json=body, headers=basic(running.key))
    assert answer.status_code == 200
    assert answer.json() == {"success": True}
    [row] = await stop_and_read(running)
    assert row["type"] == kind
    assert row["source_id"] == running.source.id
    assert json.loads(row["context"])["ip"] == CLIENT_IP


@pytest.mark.parametrize("path", ["/v1/batch", "/v1/import", "/v1/b"])
async def test_batch_paths_store_every_message(running: Running, path: str) -> None:
    batch = [{"type": kind, **body} for _, kind, body in ENDPOINTS[:6]]
    answer = await running.client.post(path, json={"batch": batch, "writeKey": running.key})
    assert answer.status_code == 200
    assert [r["type"] for r in await stop_and_read(running)] == [m["type"] for m in batch]


async def test_write_key_in_the_body_authenticates(running: Running) -> None:
    answer = await running.client.post("/v1/track", json={**TRACK, "writeKey": running.key})
    assert answer.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        basic("wrong-key"),
        {"Authorization": "Basic !!!notbase64"},
        {"Authorization": "Basic " + base64.b64encode(b":").decode()},
    ],
)
async def test_missing_or_unknown_keys_get_401_and_store_nothing(
    running: Running, headers: dict[str, str]
) -> None:
    answer = await running.client.post("/v1/track", json=TRACK, headers=headers)
    assert answer.status_code == 401
    assert answer.json()["code"] == "unauthorized"
    assert answer.json()["message"]
    assert await stop_and_read(running) == []


async def test_an_unknown_key_in_the_body_gets_401(running: Running) -> None:
    answer = await running.client.post("/v1/batch", json={"writeKey": "nope", "batch": [TRACK]})
    assert answer.status_code == 401


async def test_a_disabled_source_is_refused(running: Running) -> None:
    disabled = new_source("Old", "default", "disabled-key")
    running.app.sources.create(type(disabled)(**{**_fields(disabled), "enabled": False}))
    answer = await running.client.post("/v1/track", json=TRACK, headers=basic("disabled-key"))
    assert answer.status_code == 401


def _fields(source: Any) -> dict[str, Any]:
    return {name: getattr(source, name) for name in source.__struct_fields__}


async def test_a_new_source_works_without_restart(running: Running) -> None:
    created = running.app.sources.create(new_source("Later", "default", "later-key"))
    answer = await running.client.post("/v1/track", json=TRACK, headers=basic("later-key"))
    assert answer.status_code == 200
    [row] = await stop_and_read(running)
    assert row["source_id"] == created.id


async def test_text_plain_bodies_are_json(running: Running) -> None:
    answer = await running.client.post(
        "/v1/t",
        content=json.dumps({**TRACK, "writeKey": running.key}),
        headers={"Content-Type": "text/plain"},
    )
    assert answer.status_code == 200


@pytest.mark.parametrize("compress", [gzip.compress, zlib.compress])
async def test_compressed_bodies_are_inflated(running: Running, compress: Any) -> None:
    body = compress(json.dumps({"batch": [{"type": "track", **TRACK}]}).encode())
    encoding = "gzip" if compress is gzip.compress else "deflate"
    answer = await running.client.post(
        "/v1/batch",
        content=body,
        headers={
            **basic(running.key),
            "Content-Encoding": encoding,
            "Content-Type": "application/json",
        },
    )
    assert answer.status_code == 200
    assert len(await stop_and_read(running)) == 1


BAD_BODIES = [
    # (what is wrong, request, status, code)
    ("malformed JSON", {"content": b"{nope"}, 400, "invalid_input"),
    (
        "truncated gzip",
        {"content": gzip.compress(b'{"batch":[]}')[:-8], "headers": {"Content-Encoding": "gzip"}},
        400,
        "invalid_input",
    ),
    (
        "garbage gzip",
        {"content": b"not gzip", "headers": {"Content-Encoding": "gzip"}},
        400,
        "invalid_input",
    ),
    (
        "unknown encoding",
        {"content": b"{}", "headers": {"Content-Encoding": "br"}},
        415,
        "unsupported_media_type",
    ),
    (
        "multipart body",
        {"content": b"--x", "headers": {"Content-Type": "multipart/form-data; boundary=x"}},
        415,
        "unsupported_media_type",
    ),
    ("body over 500 KB", {"content": b"[" + b" " * 600_000 + b"]"}, 400, "payload_too_large"),
    (
        "gzip inflating past 500 KB",
        {"content": gzip.compress(b" " * 2_000_000), "headers": {"Content-Encoding": "gzip"}},
        400,
        "payload_too_large",
    ),
    ("batch not a list", {"json": {"batch": {"type": "track"}}}, 400, "invalid_input"),
    (
        "every message bad",
        {"json": {"batch": [{"type": "track"}, {"type": "nope"}]}},
        400,
        "all_rejected",
    ),
]


@pytest.mark.parametrize(("_what", "request_", "status", "code"), BAD_BODIES)
async def test_bad_batch_bodies_get_json_errors_and_store_nothing(
    running: Running, _what: str, request_: dict[str, Any], status: int, code: str
) -> None:
    headers = {**basic(running.key), **request_.pop("headers", {})}
    answer = await running.client.post("/v1/batch", headers=headers, **request_)
    assert answer.status_code == status
    assert answer.json()["code"] == code
    assert answer.json()["message"]
    assert await stop_and_read(running) == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"event": "No Ids"}, "missing_identity"),
        ({"userId": "u1"}, "missing_field"),
        ({"userId": {"id": 1}, "event": "E"}, "invalid_message"),
        ({"userId": "u1", "event": "E", "properties": {"x": "y" * 33_000}}, "message_too_large"),
    ],
)
async def test_an_invalid_single_message_is_a_400_naming_the_rule(
    running: Running, body: dict[str, Any], code: str
) -> None:
    answer = await running.client.post("/v1/track", json=body, headers=basic(running.key))
    assert answer.status_code == 400
    assert answer.json()["code"] == code
    assert await stop_and_read(running) == []


async def test_a_partly_bad_batch_keeps_the_good_messages_and_names_the_bad(
    running: Running,
) -> None:
    batch = [
        {"type": "track", "userId": "u", "event": "Good 1", "messageId": "g1"},
        {"type": "track", "userId": "u", "messageId": "bad"},
        {"type": "track", "userId": "u", "event": "Good 2", "messageId": "g2"},
    ]
    answer = await running.client.post(
        "/v1/batch", json={"batch": batch}, headers=basic(running.key)
    )
    assert answer.status_code == 200
    assert answer.json() == {
        "success": True,
        "rejected": [
            {
                "index": 1,
                "code": "missing_field",
                "message": "track needs a non-empty event",
                "messageId": "bad",
            }
        ],
    }
    assert [r["message_id"] for r in await stop_and_read(running)] == ["g1", "g2"]


async def test_cors_preflight_and_headers_let_any_origin_send(running: Running) -> None:
    preflight = await running.client.options(
        "/v1/t",
        headers={
            "Origin": "http://shop.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "authorization" in preflight.headers["access-control-allow-headers"]
    answer = await running.client.post(
        "/v1/t", json={**TRACK, "writeKey": running.key}, headers={"Origin": "http://shop.example"}
    )
    assert answer.headers["access-control-allow-origin"] == "*"
    refused = await running.client.post(
        "/v1/t", json=TRACK, headers={"Origin": "http://shop.example"}
    )
    assert refused.headers["access-control-allow-origin"] == "*"


async def test_get_on_an_ingest_path_is_405_json(running: Running) -> None:
    answer = await running.client.get("/v1/track")
    assert answer.status_code == 405
    assert answer.json()["code"] == "method_not_allowed"


async def test_unknown_paths_are_404_json(running: Running) -> None:
    answer = await running.client.get("/v2/whatever")
    assert answer.status_code == 404
    assert answer.json()["code"] == "not_found"


async def test_not_accepting_answers_503(running: Running) -> None:
    running.app.accepting = False
    answer = await running.client.post("/v1/track", json=TRACK, headers=basic(running.key))
    assert answer.status_code == 503
    assert (await running.client.get("/readyz")).status_code == 503
    running.app.accepting = True


async def test_health_ready_and_metrics(running: Running) -> None:
    assert (await running.client.get("/healthz")).json() == {"status": "ok"}
    assert (await running.client.get("/readyz")).json() == {"status": "ready"}
    await running.client.post("/v1/track", json=TRACK, headers=basic(running.key))
    await running.client.post("/v1/track", json={"event": "x"}, headers=basic(running.key))
    text = (await running.client.get("/metrics")).text
    assert 'seamline_ingest_messages_total{outcome="accepted"} 1.0' in text
    assert 'seamline_ingest_messages_total{outcome="rejected"} 1.0' in text
    assert 'seamline_ingest_requests_total{endpoint="track",status="400"} 1.0' in text
    assert "seamline_log_end_offset 1.0" in text


async def test_browser_settings_point_back_at_this_server(running: Running) -> None:
    answer = await running.client.get(f"/v1/projects/{running.key}/settings")
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "*"
    segment = answer.json()["integrations"]["Segment.io"]
    assert segment["apiKey"] == running.key
    assert segment["apiHost"] == "testserver/v1"
    assert segment["protocol"] == "http"
    assert answer.json()["metrics"]["sampleRate"] == 0
    unknown = await running.client.get("/v1/projects/nope/settings")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "unknown_write_key"


async def test_the_browser_sdk_metrics_path_is_accepted(running: Running) -> None:
    answer = await running.client.post("/v1/m", content=b'{"series":[]}')
    assert answer.status_code == 200


async def test_forwarded_for_is_ignored_without_trusted_proxies(running: Running) -> None:
    await running.client.post(
        "/v1/track", json=TRACK, headers={**basic(running.key), "X-Forwarded-For": "192.0.2.1"}
    )
    [row] = await stop_and_read(running)
    assert json.loads(row["context"])["ip"] == CLIENT_IP


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_fields_st = st.sampled_from(
    [
        "type",
        "userId",
        "anonymousId",
        "event",
        "properties",
        "context",
        "timestamp",
        "sentAt",
        "messageId",
        "batch",
        "traits",
        "groupId",
        "previousId",
        "integrations",
    ]
)
_messages = st.dictionaries(_fields_st, _json_values, max_size=6)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.sampled_from(["/v1/track", "/v1/identify", "/v1/batch", "/v1/group", "/v1/alias"]),
    body=_messages
    | st.builds(lambda b: {"batch": b}, st.lists(_messages, max_size=3))
    | st.binary(max_size=40).map(lambda b: {"raw": b.hex()}),
)
async def test_never_a_500_whatever_the_body(
    running: Running, path: str, body: dict[str, Any]
) -> None:
    answer = await running.client.post(path, json=body, headers=basic(running.key))
    assert answer.status_code in (200, 400)
    payload = answer.json()
    assert payload.get("success") is True or ("code" in payload and "message" in payload)


async def test_raw_byte_bodies_never_500(running: Running) -> None:
    for body in [
        b"\x00\x01",
        b"\xff" * 10,
        b"[[[[[[[[",
        b'{"batch":[' + b"1," * 100 + b"1]}",
        b"1e999999",
    ]:
        answer = await running.client.post("/v1/batch", content=body, headers=basic(running.key))
        assert answer.status_code == 400, body
        assert answer.json()["code"]


async def test_the_pipeline_yields_to_ingest_only_while_events_arrive(running: Running) -> None:
    assert running.app._yield_to_ingest(0.2) == 0.0  # no traffic: full speed
    await running.client.post("/v1/track", json=TRACK, headers=basic(running.key))
    assert running.app._yield_to_ingest(0.2) == pytest.approx(
        0.2 * running.app.settings.pipeline_yield
    )
    running.app.tracking.last_accepted -= 5  # the traffic stopped a while ago
    assert running.app._yield_to_ingest(0.2) == 0.0
