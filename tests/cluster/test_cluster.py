"""The cluster test (issue 12, part 2): Seamline on a 3-node JetStream cluster, PostgreSQL and a
shared lake, with 2 collect, 2 pipeline and 2 deliver processes, while the official Python SDK
sends tens of thousands of events with identity merges and the test SIGKILLs one process of each
role and one NATS node (the stream's leader).

Then: every message the SDK sent without a final error is stored exactly once; the identity
graph groups the same identifiers into profiles as the embedded mode does when it is fed the
same messages; every stored track event reached the webhook sink, duplicates bounded.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import Engine, select

from seamline.app import Seamline, bootstrap
from seamline.config import Settings
from seamline.destinations.delivery import CLAIM_LIMIT
from seamline.ops.status import log_partitions
from seamline.store.event_rows import as_message
from seamline.store.events_lake import LakeEventStore
from seamline.store.state import identities, merges, open_state_store, partition_leases, profiles
from tests.cluster.roles import Fleet, RoleProcess, environment, requesting
from tests.cluster.workload import Sender, plan
from tests.destinations.sink import Reply, Sink, sink
from tests.e2e.server import free_port
from tests.nats_server import NatsCluster

pytestmark = pytest.mark.slow

# 50 k by default; SEAMLINE_CLUSTER_EVENTS sets another count (at least 20 k is meaningful).
EVENTS = int(os.environ.get("SEAMLINE_CLUSTER_EVENTS", "50000"))
SEND_SECONDS = 80.0  # the SDK is fed evenly over this long, so the kills land mid-stream
PARTITIONS = 8
Groups = set[frozenset[tuple[str, str]]]


@pytest.mark.timeout(600)
def test_a_cluster_loses_nothing_when_a_process_of_each_role_and_a_nats_node_die(
    tmp_path: Path, postgres_url: str
) -> None:
    lake = tmp_path / "lake"
    # A slow tool: a deliver process spends most of its time in a request, where it is killed.
    with NatsCluster(3) as nats, sink(Reply(delay=0.2)) as target:
        env = environment(
            SEAMLINE_LOG_URL=",".join(nats.urls),
            SEAMLINE_LOG_PARTITIONS=str(PARTITIONS),
            SEAMLINE_LOG_REPLICAS="3",
            SEAMLINE_DATABASE_URL=postgres_url,
            SEAMLINE_EVENTS_URL=f"file://{lake}",
            SEAMLINE_SECRET_KEY=base64.urlsafe_b64encode(os.urandom(32)).decode(),
            SEAMLINE_DESTINATIONS_ALLOW_PRIVATE='["127.0.0.0/8"]',
        )
        with Fleet(tmp_path / "roles", env) as fleet:
            run = ClusterRun(fleet, nats, target, postgres_url, tmp_path)
            try:
                run.start()
                run.send()
                status = run.settle()
                codes = run.stop()
                report = run.check(lake, tmp_path / "embedded")
            finally:
                run.engine.dispose()
    report.update(status=status, exit_codes=codes)
    print("\ncluster test summary:", json.dumps(report, indent=1))


class ClusterRun:
    """The processes of one run, what was sent, and what was measured."""

    def __init__(
        self, fleet: Fleet, nats: NatsCluster, target: Sink, database_url: str, tmp: Path
    ) -> None:
        self.fleet, self.nats, self.target = fleet, nats, target
        self.cli_dir = tmp / "cli"
        self.settings = Settings(
            data_dir=self.cli_dir,
            log_url=fleet.env["SEAMLINE_LOG_URL"],
            log_partitions=PARTITIONS,
            log_replicas=3,
        )
        self.engine = open_state_store(database_url)
        self.collect = [fleet.add("collect", i, free_port()) for i in range(2)]
        self.pipeline = [fleet.add("pipeline", i) for i in range(2)]
        self.deliver = [fleet.add("deliver", i) for i in range(2)]
        self.killed: list[RoleProcess] = []
        self.calls = plan(EVENTS)
        self.sender: Sender | None = None
        self.measured: dict[str, Any] = {}
        self._threads: list[threading.Thread] = []
        self._failures: list[BaseException] = []

    # --- setting up -----------------------------------------------------------------------

    def start(self) -> None:
        fleet = self.fleet
        fleet.cli("init", data_dir=self.cli_dir)  # the schema, before the roles start
        self.write_key = fleet.cli("sources", "create", "Cluster", "--json", data_dir=self.cli_dir)[
            "write_key"
        ]
        token = fleet.cli("tokens", "create", "--name", "cluster", "--json", data_dir=self.cli_dir)
        began = time.monotonic()
        for process in fleet.processes:
            process.start()
        for process in fleet.processes:
            process.wait_ready()
        _until(self._leases_shared, lambda shared: shared, timeout=60, what="partitions shared")
        self.measured["startup_seconds"] = round(time.monotonic() - began, 1)
        headers = {"Authorization": f"Bearer {token['token']}"}
        api = httpx.Client(base_url=self.collect[0].url, headers=headers, timeout=30)
        with api:
            answer = api.put("/api/v1/destinations/hook", json={"type": "webhook"})
            assert answer.status_code == 200, answer.text
            subscription = {
                "destination": "hook",
                "action": "send",
                "trigger": 'type = "track"',
                "mapping": {
                    "url": f"{self.target.url}/events",
                    "method": "POST",
                    "data": {"@path": "$."},
                    "enable_batching": True,
                },
            }
            answer = api.put("/api/v1/subscriptions/hook-tracks", json=subscription)
            assert answer.status_code == 200, answer.text
        # Other processes pick a configuration change up within half a second (RulesCache):
        # the first events must already be routed to the hook.
        time.sleep(1.0)

    def _leases_shared(self) -> bool:
        """Both pipeline processes hold partitions, and together all of them."""
        owners = self._lease_owners()
        return len(owners) == PARTITIONS and len(set(owners.values())) == 2

    def _lease_owners(self) -> dict[int, str]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(partition_leases.c.log_partition, partition_leases.c.owner).where(
                    partition_leases.c.log_partition >= 0
                )
            )
            return {int(partition): str(owner) for partition, owner in rows}

    # --- sending, and killing meanwhile ---------------------------------------------------

    def send(self) -> None:
        sender = Sender(
            self.write_key, [c.url for c in self.collect], self.calls, EVENTS / SEND_SECONDS
        )
        self.sender = sender
        steps: list[tuple[int, Callable[[], None]]] = [
            (int(EVENTS * 0.10), self._kill_pipeline),
            (int(EVENTS * 0.25), self._kill_collect),
            (int(EVENTS * 0.40), self._kill_deliver),
            (int(EVENTS * 0.55), self._kill_nats_leader),
        ]

        def at_progress(n: int) -> None:
            while steps and n >= steps[0][0]:
                steps.pop(0)[1]()

        began = time.monotonic()
        sender.run(at_progress)
        self.measured["send_seconds"] = round(time.monotonic() - began, 1)
        for thread in self._threads:
            thread.join(120)
            assert not thread.is_alive(), thread.name
        if self._failures:
            raise self._failures[0]

    def _in_background(self, name: str, work: Callable[[], None]) -> None:
        """Run `work` in a thread; `send` re-raises what it raised once sending is done."""

        def run() -> None:
            try:
                work()
            except BaseException as error:
                self._failures.append(error)

        thread = threading.Thread(target=run, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _kill_pipeline(self) -> None:
        victim = self.pipeline[0]
        pid = victim.pid
        at_kill = self._lag_by_partition()
        killed_at = time.monotonic()
        victim.kill()
        self.killed.append(victim)
        self.measured["pipeline_killed"] = victim.name

        def takeover() -> None:
            dead = [p for p, owner in self._lease_owners().items() if f":{pid}:" in owner]
            assert dead, "the killed pipeline process held no partition"
            leased = _until(
                lambda: self._lease_owners(),
                lambda owners: all(f":{pid}:" not in owners.get(p, f":{pid}:") for p in dead),
                timeout=60,
                what="the dead pipeline's leases taken over",
            )
            self.measured["takeover_lease_seconds"] = round(time.monotonic() - killed_at, 1)
            assert len(set(leased.values())) == 1, leased
            _until(
                self._committed_by_partition,
                lambda now: all(now[p] > at_kill[p][1] for p in dead),
                timeout=90,
                what="the taken-over partitions committing again",
                interval=1.0,
            )
            self.measured["takeover_commit_seconds"] = round(time.monotonic() - killed_at, 1)
            self.measured["taken_over_partitions"] = sorted(dead)
            self.measured["lag_at_pipeline_kill"] = sum(at_kill[p][0] for p in dead)

        self._in_background("takeover", takeover)

    def _lag_by_partition(self) -> dict[int, tuple[int, int]]:
        """(lag, committed) per partition, as `seamline status` reads them."""
        return {
            row["partition"]: (row["lag"], row["committed"])
            for row in log_partitions(self.settings)
        }

    def _committed_by_partition(self) -> dict[int, int]:
        return {p: committed for p, (_, committed) in self._lag_by_partition().items()}

    def _kill_collect(self) -> None:
        victim = self.collect[0]
        victim.kill()
        self.measured["collect_killed_and_restarted"] = victim.name

        def restart() -> None:
            victim.start()
            victim.wait_ready()

        self._in_background("collect-restart", restart)

    def _kill_deliver(self) -> None:
        """SIGKILL a deliver process in the middle of a request to the sink, so the rows it had
        claimed are delivered again once their lease runs out (at least once)."""
        victim = self.deliver[0]
        self.killed.append(victim)
        port = urlsplit(self.target.url).port
        assert port is not None

        def kill() -> None:
            deadline = time.monotonic() + 20
            while not requesting(victim.pid, port) and time.monotonic() < deadline:
                time.sleep(0.005)
            in_flight = requesting(victim.pid, port)
            victim.kill()
            self.measured["deliver_killed"] = victim.name + (
                " (mid-request)" if in_flight else " (idle: no request in flight within 20 s)"
            )

        self._in_background("deliver-kill", kill)

    def _kill_nats_leader(self) -> None:
        node = self.nats.node(_stream_leader(self.nats))
        node.kill()
        self.measured["nats_killed"] = f"{node.name} (the stream leader), restarted after 5 s"

        def restart() -> None:
            time.sleep(5)
            self.nats.restart(node)

        self._in_background("nats-restart", restart)

    # --- settling and stopping ------------------------------------------------------------

    def settle(self) -> dict[str, Any]:
        """Until `seamline status` shows lag 0 everywhere and nothing pending, twice running."""
        calm = 0

        def done(status: dict[str, Any]) -> bool:
            nonlocal calm
            quiet = status["pending"] == 0 and all(p["lag"] == 0 for p in status["partitions"])
            calm = calm + 1 if quiet else 0
            return calm >= 2

        began = time.monotonic()
        status: dict[str, Any] = _until(
            lambda: self.fleet.cli("status", "--json", data_dir=self.cli_dir),
            done,
            timeout=240,
            what="lag 0 and no pending deliveries",
            interval=1.0,
        )
        self.measured["settle_seconds"] = round(time.monotonic() - began, 1)
        survivors = [p for p in self.fleet.processes if p not in self.killed]
        crashed = [p.name for p in survivors if p.process is None or p.process.poll() is not None]
        assert not crashed, f"{crashed} exited during the run:\n{self.fleet.logs()}"
        return {"dead_letters": status["dead_letters"], "partitions": len(status["partitions"])}

    def stop(self) -> dict[str, int | None]:
        codes = self.fleet.stop()
        assert all(code == 0 for code in codes.values()), (codes, self.fleet.logs())
        return codes

    # --- checking -------------------------------------------------------------------------

    def check(self, lake: Path, embedded_dir: Path) -> dict[str, Any]:
        sender = self.sender
        assert sender is not None
        sent = {str(call.kwargs["message_id"]) for call in self.calls}
        assert not sender.failed, f"{len(sender.failed)} final SDK errors: {sender.errors[:5]}"
        acknowledged = sent - sender.failed

        rows = _stored_rows(lake, self.engine)
        counts = Counter(str(row["message_id"]) for row in rows)
        twice = {m: n for m, n in counts.items() if n > 1}
        assert not twice, f"{len(twice)} messages stored more than once: {list(twice.items())[:5]}"
        missing = acknowledged - set(counts)
        assert not missing, (
            f"{len(missing)} acknowledged messages not stored: {sorted(missing)[:5]}"
        )
        assert set(counts) <= sent, sorted(set(counts) - sent)[:5]

        people = _profiles(self.engine)
        _assert_graph_consistent(self.engine, rows, people)
        cluster = set(people.values())
        messages = [as_message(row) for row in sorted(rows, key=_received)]
        embedded = asyncio.run(_embedded_groups(messages, embedded_dir))
        only_cluster, only_embedded = cluster - embedded, embedded - cluster
        assert not only_cluster and not only_embedded, (
            f"profiles differ: {len(only_cluster)} only in the cluster, e.g. "
            f"{sorted(map(sorted, only_cluster))[:3]}; {len(only_embedded)} only embedded, e.g. "
            f"{sorted(map(sorted, only_embedded))[:3]}"
        )

        tracks = {str(row["message_id"]) for row in rows if row["type"] == "track"}
        delivered = Counter(_delivered_ids(self.target))
        undelivered = tracks - set(delivered)
        assert not undelivered, f"{len(undelivered)} stored tracks never delivered"
        assert set(delivered) <= tracks, sorted(set(delivered) - tracks)[:5]
        duplicates = sum(delivered.values()) - len(delivered)
        # Only what the killed deliver process had claimed (one claim, at most CLAIM_LIMIT rows)
        # can be sent twice; that is also under 5 % of the events.
        assert duplicates <= min(CLAIM_LIMIT, 0.05 * len(tracks)), duplicates

        with self.engine.connect() as conn:
            merged = len(conn.execute(select(merges.c.id)).all())
        return {
            "events_sent": len(sent),
            "sdk_final_errors": len(sender.failed),
            "stored": len(counts),
            "tracks_stored": len(tracks),
            "deliveries": sum(delivered.values()),
            "duplicate_deliveries": duplicates,
            "sink_requests": len(self.target.received),
            "profiles": len(cluster),
            "profiles_with_several_identifiers": sum(1 for g in cluster if len(g) > 1),
            "cluster_merges_recorded": merged,
            **self.measured,
        }


def _stored_rows(lake: Path, engine: Engine) -> list[dict[str, Any]]:
    store = LakeEventStore(lake, engine, writable=False)
    try:
        names = [str(row[0]) for row in store.query("DESCRIBE events")]
        return [dict(zip(names, row, strict=True)) for row in store.query("SELECT * FROM events")]
    finally:
        store.close()


def _received(row: dict[str, Any]) -> tuple[Any, int]:
    return row["received_at"], int(row["log_offset"])


def _profiles(engine: Engine) -> dict[str, frozenset[tuple[str, str]]]:
    """Each canonical profile's identifiers, as (type, value) pairs."""
    query = select(identities.c.type, identities.c.value, profiles.c.canonical_id).join(
        profiles, profiles.c.id == identities.c.profile_id
    )
    found: dict[str, set[tuple[str, str]]] = {}
    with engine.connect() as conn:
        for id_type, value, canonical in conn.execute(query):
            found.setdefault(str(canonical), set()).add((str(id_type), str(value)))
    return {canonical: frozenset(members) for canonical, members in found.items()}


def _assert_graph_consistent(
    engine: Engine, rows: list[dict[str, Any]], people: dict[str, frozenset[tuple[str, str]]]
) -> None:
    """Canonical profiles are their own canonical; each merge's two sides ended as one person;
    each stored event is on the person its userId (else anonymousId) belongs to."""
    with engine.connect() as conn:
        canonical = {
            str(p): str(c) for p, c in conn.execute(select(profiles.c.id, profiles.c.canonical_id))
        }
        merged = conn.execute(select(merges.c.from_profile, merges.c.into_profile)).all()
    chained = {p: c for p, c in canonical.items() if canonical.get(c) != c}
    assert not chained, (
        f"{len(chained)} profiles point at a merged one: {list(chained.items())[:5]}"
    )
    split = [(a, b) for a, b in merged if canonical[str(a)] != canonical[str(b)]]
    assert not split, f"{len(split)} merges whose two profiles are apart: {split[:5]}"
    owner = {identifier: person for person, group in people.items() for identifier in group}
    elsewhere = []
    for row in rows:
        identifier = (
            ("user_id", row["user_id"]) if row["user_id"] else ("anonymous_id", row["anonymous_id"])
        )
        if owner.get(identifier) != canonical.get(str(row["profile_id"])):
            elsewhere.append(row["message_id"])
    assert not elsewhere, f"{len(elsewhere)} events not on their person: {elsewhere[:5]}"


async def _embedded_groups(messages: list[dict[str, Any]], data_dir: Path) -> Groups:
    """The profiles an embedded Seamline builds from `messages`, sent in this order."""
    settings = Settings(data_dir=data_dir)
    source = bootstrap(settings)
    app = Seamline(settings)
    await app.start()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://embedded") as client:
            for start in range(0, len(messages), 200):
                answer = await client.post(
                    "/v1/batch",
                    json={"batch": messages[start : start + 200]},
                    auth=(source.write_key, ""),
                )
                assert answer.status_code == 200, answer.text
        deadline = time.monotonic() + 180
        while not app.caught_up():
            assert time.monotonic() < deadline, "the embedded pipeline did not catch up"
            await asyncio.sleep(0.05)
        return set(_profiles(app.state).values())
    finally:
        await app.stop()


def _delivered_ids(target: Sink) -> Iterator[str]:
    for request in list(target.received):
        body = request.json()
        for event in body if isinstance(body, list) else [body]:
            yield str(event["messageId"])


def _stream_leader(nats: NatsCluster) -> str:
    """The server name of the log stream's leader, from a running node's monitoring port."""
    for node in nats.nodes:
        if not node.running:
            continue
        address = f"http://127.0.0.1:{node.monitor_port}/jsz?streams=true"
        with urllib.request.urlopen(address, timeout=5) as response:
            state = json.load(response)
        for account in state.get("account_details", []):
            for stream in account.get("stream_detail", []):
                if stream["name"] == "SEAMLINE":
                    return str(stream["cluster"]["leader"])
    raise AssertionError("no node knows the SEAMLINE stream")


def _until(
    look: Callable[[], Any],
    done: Callable[[Any], object],
    *,
    timeout: float,
    what: str,
    interval: float = 0.25,
) -> Any:
    """Look until `done(found)`; what was found last."""
    deadline = time.monotonic() + timeout
    while True:
        found = look()
        if done(found):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached in {timeout} s; last seen: {found!r}")
        time.sleep(interval)
