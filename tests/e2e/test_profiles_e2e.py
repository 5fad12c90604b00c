"""Identity scenarios sent with segment-analytics-python to a real server; profiles read back
through the Profile API over HTTP and from the stores."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import segment.analytics as segment_analytics
from sqlalchemy import create_engine

from seamline.store.identity_sql import SqlIdentityGraph
from tests.e2e.server import Server, run_cli
from tests.e2e.stored import stored_events
from tests.identity.scenarios import SCENARIOS
from tests.test_cli import cli

pytestmark = pytest.mark.slow


def suffixed(value: str, suffix: str) -> str:
    # Blocked values must stay what they are for the scenario to mean anything.
    return value if value in ("undefined", "null") else value + suffix


def send_with_sdk(client: Any, message: dict[str, Any], suffix: str) -> None:
    kind = message["type"]
    options: dict[str, Any] = {"message_id": message["id"] + suffix}
    if "anonymousId" in message:
        options["anonymous_id"] = suffixed(message["anonymousId"], suffix)
    if "context" in message:
        options["context"] = message["context"]
    user = suffixed(message["userId"], suffix) if "userId" in message else None
    if kind == "identify":
        client.identify(user, message.get("traits", {}), **options)
    elif kind == "track":
        client.track(user, message["event"], message.get("properties", {}), **options)
    elif kind == "page":
        client.page(user, None, message.get("name"), **options)
    elif kind == "screen":
        client.screen(user, None, message.get("name"), **options)
    elif kind == "alias":
        client.alias(
            suffixed(message["previousId"], suffix), user, message_id=options["message_id"]
        )
    else:
        raise AssertionError(kind)


def test_scenarios_through_the_sdk_and_the_profile_api(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert cli("--data-dir", str(data), "init").returncode == 0  # a token before the server
    token = run_cli(data, "tokens", "create", "--name", "e2e", "--json")["token"]
    with Server(data) as server:
        client = segment_analytics.Client(
            server.write_key, host=server.url, max_retries=0, sync_mode=True
        )
        for n, (_, story, _) in enumerate(SCENARIOS):
            for message in story:
                send_with_sdk(client, message, f"-s{n}")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            counts = run_cli(data, "events", "count", "--json")
            if counts["stored"] >= counts["accepted"] > 0:
                break
            time.sleep(0.1)
        base = f"{server.url}/v1/spaces/default/collections/users/profiles"
        with httpx.Client(auth=(token, "")) as http:
            email_change = next(
                n for n, s in enumerate(SCENARIOS) if s[0].startswith("an email change")
            )
            eve = f"user_id:eve-s{email_change}"
            # The page with context.traits.email came last, so its value is the trait.
            assert http.get(f"{base}/{eve}/traits").json()["traits"] == {"email": "EVE@old.io"}
            by_new_email = http.get(f"{base}/email:eve@new.io/traits").json()["traits"]
            assert by_new_email == {"email": "EVE@old.io"}
            ids = {
                (d["type"], d["id"]) for d in http.get(f"{base}/{eve}/external_ids").json()["data"]
            }
            assert {
                ("user_id", f"eve-s{email_change}"),
                ("email", "eve@old.io"),
                ("email", "eve@new.io"),
            } <= ids
            events = http.get(f"{base}/user_id:ann-s0/events?limit=10").json()["data"]
            assert sorted(e["message_id"] for e in events) == [
                "login-s0",
                "p1-s0",
                "p2-s0",
                "t1-s0",
            ]
            assert http.get(f"{base}/user_id:nobody/traits").status_code == 404
            assert (
                http.get(f"{base}/user_id:ann-s0/traits", auth=("sl_nope", "")).status_code == 401
            )
        assert server.stop() == 0

    graph = SqlIdentityGraph(create_engine(f"sqlite:///{data}/state.db"))
    profile_of = {
        row["message_id"]: graph.canonical_of_profile(row["profile_id"])
        for row in stored_events(data)
    }
    for n, (story_name, _, same) in enumerate(SCENARIOS):
        owners = []
        for group in same:
            found = {profile_of[f"{message_id}-s{n}"] for message_id in group}
            assert len(found) == 1, (story_name, group, found)
            owners.append(found.pop())
        assert len(set(owners)) == len(owners), story_name
