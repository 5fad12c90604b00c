"""No message can stop Seamline: arbitrary JSON values — huge, deep, NaN-like, unicode edges,
very long keys — go through the Tracking API of a real `seamline serve` into its pipeline.
Afterwards the pipeline still runs, every accepted message is stored or held, and a valid
message sent last is stored."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine

from seamline.store.protocols_sql import SqlProtocolsStore
from tests.e2e.server import Server
from tests.e2e.stored import stored_events

pytestmark = pytest.mark.slow


class Raw:
    """JSON text placed verbatim (numbers JSON can write but Python's json can't)."""

    def __init__(self, text: str) -> None:
        self.text = text


def encode(value: Any) -> str:
    """JSON text for `value`, keeping lone surrogates as \\u escapes and Raw as written."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(f"{encode(k)}:{encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(encode(v) for v in value) + "]"
    if isinstance(value, float) and value != value:
        return "NaN"
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return "1e999" if value > 0 else "-1e999"
    return json.dumps(value, ensure_ascii=True)


edgy_text = st.one_of(
    st.text(max_size=30),
    st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3),  # lone surrogates
    st.sampled_from(["\u0000", "\ufeff", "\U0010ffff", "\u202e", "e\u0301", "\ud83d\ude00"]),
    st.text(min_size=2000, max_size=6000),
)
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=2**64 + 2),
    st.integers(min_value=-(2**64), max_value=-(2**63) + 2),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=20, max_value=5000).map(lambda n: Raw("9" * n)),
    st.sampled_from(
        [Raw("1e999"), Raw("-1e999"), Raw("1e-999"), Raw("-0"), Raw("Infinity"), Raw("1E400")]
    ),
)
leaves = st.one_of(st.none(), st.booleans(), numbers, edgy_text)
values = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(edgy_text, children, max_size=4)
    ),
    max_leaves=12,
)
deep = st.integers(min_value=1, max_value=3000).map(
    lambda depth: Raw('{"a":' * depth + "1" + "}" * depth)
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("hostile") / "data"
    with Server(data) as running:
        yield running


ACCEPTED: list[str] = []


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    value=st.one_of(values, deep),
    key=edgy_text,
    where=st.sampled_from(["properties", "context", "traits", "integrations", "event"]),
)
def test_no_value_stops_the_pipeline(server: Server, value: Any, key: str, where: str) -> None:
    message_id = str(uuid.uuid4())
    kind = "identify" if where == "traits" else "track"
    fields: dict[str, Any] = {"userId": "fuzz", "messageId": message_id}
    if kind == "track":
        fields["event"] = value if where == "event" else "Fuzzed"
    if where != "event":
        fields[where] = {key: value}
    body = encode(fields)
    answer = httpx.post(
        f"{server.url}/v1/{kind}",
        content=body.encode("utf-8", "surrogatepass"),
        headers={"content-type": "application/json"},
        auth=(_write_key(server), ""),
        timeout=10,
    )
    assert answer.status_code in (200, 400), answer.text
    reply = answer.json()  # always JSON, never a plain-text error
    if answer.status_code == 400:
        assert isinstance(reply["code"], str) and reply["message"]
    else:
        ACCEPTED.append(message_id)
    assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200


def test_afterwards_the_pipeline_runs_and_every_accepted_message_is_stored_or_held(
    server: Server,
) -> None:
    assert ACCEPTED, "the fuzzing test accepted nothing, so it proved nothing"
    valid = {"userId": "after", "event": "Still Works", "messageId": "valid-after-fuzz"}
    sent = httpx.post(f"{server.url}/v1/track", json=valid, auth=(_write_key(server), ""))
    assert sent.status_code == 200
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if httpx.get(f"{server.url}/readyz", timeout=5).status_code == 200 and _caught_up(server):
            break
        time.sleep(0.2)
    assert httpx.get(f"{server.url}/readyz", timeout=5).status_code == 200
    assert server.stop() == 0
    stored = {row["message_id"] for row in stored_events(server.data_dir)}
    held = {
        h.message_id
        for h in SqlProtocolsStore(create_engine(f"sqlite:///{server.data_dir / 'state.db'}")).held(
            "default", limit=100_000
        )
    }
    assert "valid-after-fuzz" in stored
    missing = [m for m in ACCEPTED if m not in stored and m not in held]
    assert missing == []


_KEYS: dict[Path, str] = {}


def _write_key(server: Server) -> str:
    if server.data_dir not in _KEYS:
        _KEYS[server.data_dir] = server.write_key
    return _KEYS[server.data_dir]


def _caught_up(server: Server) -> bool:
    metrics = httpx.get(f"{server.url}/metrics", timeout=5).text
    found = {
        line.split()[0]: float(line.split()[1])
        for line in metrics.splitlines()
        if line.startswith(("seamline_pipeline_committed_offset ", "seamline_log_end_offset "))
    }
    return (
        len(found) == 2
        and found["seamline_pipeline_committed_offset"] >= found["seamline_log_end_offset"]
    )
