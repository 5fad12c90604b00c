"""Delivery: routing throughput, delivered events/s and event-to-destination latency.

Three webhook destination instances, two subscriptions each, deliver to a local HTTP sink that
runs in its own process (a raw asyncio server answering 200 at once, so it never competes for
Seamline's GIL):

  lake      batch mode (`--webhook-batch` events per request): every track (whole event) and
            every identify;
  orders    one request per event: Order Completed, and Checkout Started with total > 100;
  products  one request per event: match(event, "Product*"), and Checkout pages.

Each mapping has ~6 fields using @path, @template and @if. What is measured:

  route    `route()` (egress, FQL triggers, mappings, payload validation) over N generated
           messages on one core; then the whole RouteToDestinations stage, outbox enqueue into
           SQLite included, over batches of `--batch-size`;
  deliver  a real `Seamline` app, in process: its outbox pre-filled (delivery only), then N
           events appended to its log (log → pipeline → route → delivery); the time until
           the outbox is empty, per destination;
  latency  `seamline serve` in a subprocess fed through the Tracking API at a steady
           `--rate` events/s; each event carries its send time (properties.sent_ns), the sink
           its receive time; percentiles of event-to-destination latency.

Nothing is asserted: the tables are the result.

    .venv/bin/python benchmarks/deliver.py
    .venv/bin/python benchmarks/deliver.py --events 10000 --latency-seconds 5
    .venv/bin/python benchmarks/deliver.py --only latency --pipeline-yield 0
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import multiprocessing
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: make `tests` importable

import httpx  # noqa: E402
import msgspec  # noqa: E402
import uvloop  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from seamline.access.sealing import Sealer, key_from  # noqa: E402
from seamline.app import Seamline, bootstrap, open_state, tune_runtime  # noqa: E402
from seamline.config import Settings  # noqa: E402
from seamline.destinations.errors import InvalidPayload  # noqa: E402
from seamline.pipeline.route_stage import RouteToDestinations, route  # noqa: E402
from seamline.privacy.egress import Egress  # noqa: E402
from seamline.privacy.fields import FieldClassifier  # noqa: E402
from seamline.spec.envelope import Envelope, Item, envelope_encoder  # noqa: E402
from seamline.spec.messages import Message  # noqa: E402
from seamline.store.outbox_sql import SqlOutbox  # noqa: E402
from seamline.store.resources_sql import SqlResourceStore  # noqa: E402
from seamline.store.state import open_state_store  # noqa: E402
from seamline.workspace.compiled import RulesCache, WorkspaceRules  # noqa: E402
from seamline.workspace.saving import prepare  # noqa: E402
from tests.e2e.server import Server  # noqa: E402

WORKSPACE = "default"
SOURCE = "src_bench"
START = datetime(2026, 1, 1, tzinfo=UTC)
PAGES = ("Home", "Category", "Product", "Checkout")
TRACKS = (
    ("Product Viewed", 25),
    ("Product Added", 10),
    ("Checkout Started", 8),
    ("Order Completed", 7),
    ("Cart Viewed", 5),
)
"""Track events by weight in 55. With 40 % pages and 5 % identifies, 100 messages make ~60
batched `lake` deliveries, ~12 `orders` requests and ~45 `products` requests."""
DESTINATIONS = ("lake", "orders", "products")
_encode = msgspec.json.Encoder().encode
_as_dict = msgspec.json.Decoder(dict[str, Any]).decode

# ---------------------------------------------------------------------------------- workload


def generate(count: int, seed: int, prefix: str) -> list[dict[str, Any]]:
    """`count` Segment messages as an SDK sends them (camelCase), each with a unique id."""
    rng = random.Random(seed)
    names = [name for name, weight in TRACKS for _ in range(weight)]
    context = {
        "library": {"name": "analytics.js", "version": "next-1.84.3"},
        "ip": "192.0.2.1",
        "page": {"path": "/p", "url": "https://shop.example/p"},
        "userAgent": "Mozilla/5.0",
    }
    messages = []
    for n in range(count):
        user = rng.randrange(count // 10 + 1)
        common: dict[str, Any] = {
            "messageId": f"{prefix}-{n}",
            "anonymousId": f"anon-{user}",
            "timestamp": (START + timedelta(milliseconds=n)).isoformat(),
            "context": context,
        }
        if rng.random() < 0.5:
            common["userId"] = f"user-{user}"
        roll = rng.randrange(100)
        if roll < 40:
            page = rng.choice(PAGES)
            properties: dict[str, Any] = {
                "path": f"/{page.lower()}",
                "url": f"https://shop.example/{page}",
            }
            message = {"type": "page", "name": page, "properties": properties, **common}
        elif roll < 45:
            traits = {"email": f"user{user}@example.com", "plan": rng.choice(("free", "pro"))}
            message = {"type": "identify", "traits": traits, **common}
        else:
            price = rng.randrange(5, 200)
            properties = {
                "sku": f"sku-{n % 977}",
                "price": price,
                "total": price * rng.randrange(1, 3),
                "currency": "EUR",
            }
            message = {"type": "track", "event": rng.choice(names), "properties": properties}
            message.update(common)
        message["properties" if message["type"] != "identify" else "traits"]["sent_ns"] = 0
        messages.append(message)
    return messages


def as_message(wire: dict[str, Any], received_at: datetime | None = None) -> Message:
    """The message as the Tracking API puts it in the log."""
    message = msgspec.json.decode(_encode(wire), type=Message)
    return msgspec.structs.replace(message, received_at=received_at or START)


def as_items(messages: Sequence[dict[str, Any]], first_offset: int = 0) -> list[Item]:
    return [
        Item(first_offset + n, Envelope(workspace_id=WORKSPACE, source_id=SOURCE, message=m))
        for n, m in enumerate(as_message(w) for w in messages)
    ]


DATA = {
    "messageId": {"@path": "$.messageId"},
    "user": {
        "@if": {
            "exists": {"@path": "$.userId"},
            "then": {"@path": "$.userId"},
            "else": {"@path": "$.anonymousId"},
        }
    },
    "label": {"@template": "{{type}}: {{event}}{{name}}"},
    "sku": {"@path": "$.properties.sku"},
    "total": {"@path": "$.properties.total"},
    "sent_ns": {"@path": "$.properties.sent_ns"},
    "receivedAt": {"@path": "$.receivedAt"},
}
"""A subscription's `data`: 7 values from @path, @if and @template."""


def documents(sink_url: str, batch: int, concurrency: int) -> list[tuple[str, str, Any]]:
    """(kind, name, document) of the three destinations and their six subscriptions."""

    def subscription(destination: str, name: str, trigger: str, data: Any) -> tuple[str, str, Any]:
        batching = destination == "lake"
        mapping = {
            "url": f"{sink_url}/{destination}/{name}",
            "method": "POST",
            "headers": {"X-Seamline-Bench": "deliver"},
            "data": data,
            "enable_batching": batching,
            "batch_size": batch,
        }
        document = {"destination": destination, "action": "send", "trigger": trigger}
        return ("subscription", f"{destination}-{name}", {**document, "mapping": mapping})

    identify = {
        **DATA,
        "email": {"@path": "$.traits.email"},
        "sent_ns": {"@path": "$.traits.sent_ns"},
    }
    return [
        *(
            (
                "destination",
                name,
                {
                    "type": "webhook",
                    "settings": {},
                    "concurrency": 1 if name == "lake" else concurrency,
                },
            )
            for name in DESTINATIONS
        ),
        subscription("lake", "tracks", 'type = "track"', {"@path": "$."}),
        subscription("lake", "identifies", 'type = "identify"', identify),
        subscription("orders", "completed", 'type = "track" and event = "Order Completed"', DATA),
        subscription(
            "orders", "big-carts", 'event = "Checkout Started" and properties.total > 100', DATA
        ),
        subscription("products", "events", 'match(event, "Product*")', DATA),
        subscription("products", "checkout", 'type = "page" and name = "Checkout"', DATA),
    ]


LOOPBACK = ["127.0.0.0/8"]
"""The sink listens on 127.0.0.1, which destinations reach only where the setting opens it."""


def configure(
    resources: SqlResourceStore, sealer: Sealer, sink_url: str, args: argparse.Namespace
) -> None:
    """Save the destinations and subscriptions as the management API would."""
    for kind, name, document in documents(sink_url, args.webhook_batch, args.concurrency):
        resources.put(
            WORKSPACE,
            kind,
            name,
            prepare(WORKSPACE, kind, name, document, resources, sealer, allow_private=LOOPBACK),
        )


def egress_of(rules: WorkspaceRules) -> Egress:
    """What the app builds per workspace: no PII controls here, so each view is a copy."""
    controls = [c for c in rules.pii_controls if c.destinations]
    return Egress(rules.consent, controls, FieldClassifier(rules.matchers), b"bench-salt")


# -------------------------------------------------------------------------------------- sink

_SENT = re.compile(rb'"sent_ns":(\d+)')
_RECEIVED = re.compile(rb'"receivedAt":"([^"]+)"')
_OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


class _Recorder:
    """What the sink saw: requests and events per path, and (path, sent_ns, receive ns,
    receivedAt) of every event that carries a send time."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.events: Counter[str] = Counter()
        self.timed: list[tuple[str, int, int, str]] = []

    def reset(self) -> None:
        self.requests.clear()
        self.events.clear()
        self.timed.clear()

    def record(self, path: str, body: bytes, now: int) -> None:
        self.requests[path] += 1
        self.events[path] += body.count(b'"messageId":')
        sent = _SENT.findall(body)
        if sent and sent[0] != b"0":
            received = _RECEIVED.findall(body)
            for at, server in zip(sent, received, strict=False):
                self.timed.append((path, int(at), now, server.decode()))

    def answer(self, method: bytes, path: str) -> bytes:
        if path == "/_stats":
            return self._json(
                {"requests": self.requests, "events": self.events, "timed": self.timed}
            )
        if path == "/_count":
            return self._json({"events": sum(self.events.values()), "timed": len(self.timed)})
        if path == "/_reset":
            self.reset()
        return _OK

    @staticmethod
    def _json(value: Any) -> bytes:
        body = _encode(value)
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
        return head.encode() + b"\r\n\r\n" + body


class _SinkProtocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive, just enough for httpx: Content-Length bodies, 200 at once."""

    def __init__(self, recorder: _Recorder) -> None:
        self._recorder = recorder
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not derive from asyncio.Transport; they have its methods.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (end := self._buffer.find(b"\r\n\r\n")) >= 0:
            head = bytes(self._buffer[: end + 2])  # each header line ends with CRLF
            at = head.lower().find(b"\r\ncontent-length:")
            length = int(head[at + 17 : head.find(b"\r\n", at + 2)]) if at >= 0 else 0
            if len(self._buffer) < end + 4 + length:
                return
            body = bytes(self._buffer[end + 4 : end + 4 + length])
            del self._buffer[: end + 4 + length]
            method, target, _ = head.split(b"\r\n", 1)[0].split(b" ", 2)
            path = target.decode()
            if not path.startswith("/_"):
                self._recorder.record(path, body, time.time_ns())
            assert self._transport is not None
            self._transport.write(self._recorder.answer(method, path))


def _sink_main(report: Connection) -> None:
    async def serve() -> None:
        recorder = _Recorder()
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _SinkProtocol(recorder), "127.0.0.1", 0)
        report.send(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    uvloop.run(serve())


@dataclass
class SinkStats:
    requests: Counter[str]
    events: Counter[str]
    timed: list[tuple[str, int, int, str]]

    def per_destination(self, what: Counter[str]) -> Counter[str]:
        found: Counter[str] = Counter()
        for path, n in what.items():
            found[path.split("/")[1]] += n
        return found


class Sink:
    """The sink process; `url` is where destinations deliver."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        self._process = context.Process(target=_sink_main, args=(theirs,), daemon=True)
        self._process.start()
        self.url = f"http://127.0.0.1:{ours.recv()}"

    def reset(self) -> None:
        httpx.post(f"{self.url}/_reset")

    def count(self) -> tuple[int, int]:
        found = httpx.get(f"{self.url}/_count").json()
        return int(found["events"]), int(found["timed"])

    def stats(self) -> SinkStats:
        found = msgspec.json.decode(httpx.get(f"{self.url}/_stats", timeout=60).content)
        timed = [(p, int(s), int(r), str(a)) for p, s, r, a in found["timed"]]
        return SinkStats(Counter(found["requests"]), Counter(found["events"]), timed)

    def close(self) -> None:
        self._process.terminate()
        self._process.join(10)


# ------------------------------------------------------------------------------------- route


class TimedOutbox:
    """The SQLite outbox, timing what the route stage asks of it."""

    def __init__(self, outbox: SqlOutbox) -> None:
        self._outbox = outbox
        self.enqueue_seconds = 0.0
        self.count_seconds = 0.0
        self.rows = 0

    def enqueue(self, rows: Sequence[dict[str, Any]]) -> None:
        began = time.perf_counter()
        self._outbox.enqueue(rows)
        self.enqueue_seconds += time.perf_counter() - began
        self.rows += len(rows)

    def count(self, found: dict[tuple[str, str, str, datetime, str, str], int]) -> None:
        began = time.perf_counter()
        self._outbox.count(found)
        self.count_seconds += time.perf_counter() - began


def bench_route(args: argparse.Namespace, console: Console, root: Path, sink_url: str) -> None:
    engine = open_state_store(f"sqlite:///{root}/route-state.db")
    resources = SqlResourceStore(engine)
    configure(resources, Sealer(key_from(None, root)), sink_url, args)
    cache = RulesCache(resources, root / "functions")
    rules = cache.get(WORKSPACE)
    egress = egress_of(rules)
    instances = [i for i in rules.destinations.values() if i.subscriptions]
    console.print(f"route: generating {args.events:,} messages …")
    wire = generate(args.events, args.seed, "r")
    items = as_items(wire)
    # What the stage routes: the stored message as a dict, as RouteToDestinations makes it.
    views = [_as_dict(_encode(item.envelope.message)) for item in items]

    mapped = invalid = 0
    began = time.perf_counter()
    for message in views:
        for instance in instances:
            routed = route(instance, egress, message)
            if isinstance(routed, str):
                continue
            for _subscription, payload in routed:
                if isinstance(payload, InvalidPayload):
                    invalid += 1
                else:
                    mapped += 1
    route_seconds = time.perf_counter() - began

    outbox = TimedOutbox(SqlOutbox(engine))
    stage = RouteToDestinations(lambda _w: rules, lambda _w: egress, outbox)
    batch_times: list[float] = []
    began = time.perf_counter()
    for start in range(0, len(items), args.batch_size):
        batch_began = time.perf_counter()
        stage(items[start : start + args.batch_size])
        batch_times.append(time.perf_counter() - batch_began)
    stage_seconds = time.perf_counter() - began
    cache.close()
    engine.dispose()

    table = Table(title="Route: egress + FQL triggers + mapping + payload validation (one core)")
    for column in ("measured", "messages", "payloads", "seconds", "messages/s", "payloads/s"):
        table.add_column(column, justify="right")
    table.add_column("µs/payload", justify="right")
    table.add_column("p50 / p99 batch ms", justify="right")
    table.add_row(
        f"route(), {len(instances)} instances",
        f"{len(views):,}",
        f"{mapped:,}",
        f"{route_seconds:.2f}",
        f"{len(views) / route_seconds:,.0f}",
        f"{mapped / route_seconds:,.0f}",
        f"{route_seconds / max(mapped, 1) * 1e6:.1f}",
        "",
    )
    ordered = sorted(batch_times)
    table.add_row(
        f"RouteToDestinations + SQLite outbox, batch {args.batch_size:,}",
        f"{len(items):,}",
        f"{outbox.rows:,}",
        f"{stage_seconds:.2f}",
        f"{len(items) / stage_seconds:,.0f}",
        f"{outbox.rows / stage_seconds:,.0f}",
        f"{stage_seconds / max(outbox.rows, 1) * 1e6:.1f}",
        f"{statistics.median(ordered) * 1000:.0f} / "
        f"{ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000:.0f}",
    )
    console.print(table)
    other = stage_seconds - outbox.enqueue_seconds - outbox.count_seconds
    console.print(
        f"stage time: outbox enqueue {outbox.enqueue_seconds:.2f} s "
        f"({outbox.enqueue_seconds / stage_seconds:.0%}), counts {outbox.count_seconds:.2f} s, "
        f"routing incl. message → dict {other:.2f} s; invalid payloads {invalid}"
    )
    console.print(f"command: {command(args, 'route')}")


# ----------------------------------------------------------------------------------- deliver


@dataclass
class Drained:
    mode: str
    seconds: float
    routed_at: float
    drained_at: dict[str, float]
    queued: Counter[str]
    sink: SinkStats
    dead: int = 0
    notes: list[str] = field(default_factory=list)


async def drain_once(
    args: argparse.Namespace, console: Console, root: Path, sink: Sink, mode: str
) -> Drained:
    """One app on a fresh data dir: the outbox pre-filled (`delivery`) or N events in its log
    (`end-to-end`); returns when every destination's outbox is empty."""
    settings = Settings(
        data_dir=root / f"deliver-{mode}",
        delivery_poll=args.delivery_poll,
        pipeline_batch_size=args.batch_size,
        log_fsync=False,
        destinations_allow_private=LOOPBACK,
        **({"pipeline_yield": args.pipeline_yield} if args.pipeline_yield is not None else {}),
    )
    bootstrap(settings)
    app = Seamline(settings)
    configure(app.resources, app.sealer, sink.url, args)
    app.rules.invalidate(WORKSPACE)
    wire = generate(args.events, args.seed, f"d-{mode}")
    queued: Counter[str] = Counter()
    if mode == "delivery":
        rules = app.rules.get(WORKSPACE)
        stage = RouteToDestinations(app.rules.get, lambda _w: egress_of(rules), app.outbox)
        items = as_items(wire)
        for start in range(0, len(items), args.batch_size):
            stage(items[start : start + args.batch_size])
        queued.update({d: n for (d, outcome), n in stage.counts.items() if outcome == "queued"})
    else:
        records = [
            envelope_encoder.encode(Envelope(workspace_id=WORKSPACE, source_id=SOURCE, message=m))
            for m in (as_message(w) for w in wire)
        ]
        for start in range(0, len(records), 10_000):
            await app.log.append(records[start : start + 10_000])
    await asyncio.to_thread(sink.reset)
    console.print(f"deliver ({mode}): {args.events:,} events, starting the app …")
    began = time.perf_counter()
    await app.start()
    routed_at = 0.0 if mode == "delivery" else -1.0
    drained: dict[str, float] = {}
    while len(drained) < len(DESTINATIONS):
        await asyncio.sleep(0.1)
        now = time.perf_counter() - began
        if routed_at < 0 and app.caught_up():
            routed_at = now
        if routed_at < 0:
            continue
        pending = await asyncio.to_thread(app.outbox.pending, WORKSPACE)
        for name in DESTINATIONS:
            if name not in drained and not pending.get(name):
                drained[name] = now
        if now > args.drain_timeout:
            console.print(f"[yellow]gave up after {now:.0f} s; still pending: {pending}[/]")
            break
    seconds = time.perf_counter() - began
    if mode != "delivery":
        queued.update({d: n for (d, outcome), n in app.route.counts.items() if outcome == "queued"})
    dead = len(await asyncio.to_thread(app.outbox.dead, WORKSPACE))
    await app.stop()
    return Drained(
        mode, seconds, routed_at, drained, queued, await asyncio.to_thread(sink.stats), dead
    )


async def bench_deliver(args: argparse.Namespace, console: Console, root: Path, sink: Sink) -> None:
    for mode in ("delivery", "end-to-end"):
        found = await drain_once(args, console, root, sink, mode)
        events = found.sink.per_destination(found.sink.events)
        requests = found.sink.per_destination(found.sink.requests)
        title = (
            "Delivered events/s: outbox pre-filled, delivery only"
            if mode == "delivery"
            else f"Delivered events/s: {args.events:,} events log → pipeline → route → delivery"
        )
        table = Table(title=title + f" (in-process app, delivery_poll {args.delivery_poll})")
        columns = ("destination", "mode", "queued", "delivered", "requests", "drained at s")
        for column in (*columns, "events/s", "requests/s"):
            table.add_column(column, justify="right")
        for name in DESTINATIONS:
            at = found.drained_at.get(name, found.seconds)
            table.add_row(
                name,
                f"batch {args.webhook_batch}"
                if name == "lake"
                else f"1 by 1, {args.concurrency} worker(s)",
                f"{found.queued[name]:,}",
                f"{events[name]:,}",
                f"{requests[name]:,}",
                f"{at:.1f}",
                f"{events[name] / at:,.0f}",
                f"{requests[name] / at:,.0f}",
            )
        total_events, total_requests = sum(events.values()), sum(requests.values())
        table.add_row(
            "all",
            "",
            f"{sum(found.queued.values()):,}",
            f"{total_events:,}",
            f"{total_requests:,}",
            f"{found.seconds:.1f}",
            f"{total_events / found.seconds:,.0f}",
            f"{total_requests / found.seconds:,.0f}",
        )
        console.print(table)
        if mode != "delivery":
            console.print(
                f"the pipeline had routed all {args.events:,} events after {found.routed_at:.1f} s"
                f" ({args.events / found.routed_at:,.0f} events/s through every stage)"
            )
        if found.dead:
            console.print(f"[yellow]{found.dead} dead letters[/]")
    console.print(f"command: {command(args, 'deliver')}")


# ----------------------------------------------------------------------------------- latency


@dataclass
class Sent:
    statuses: Counter[int] = field(default_factory=Counter)
    round_trips: list[float] = field(default_factory=list)
    behind: float = 0.0
    seconds: float = 0.0
    backlog: list[int] = field(default_factory=list)


class Connections:
    """Keep-alive HTTP/1.1 connections to the server, each carrying one request at a time.

    A raw client: httpx's async pool spent ~3 ms of CPU per request here, on a machine whose
    two cores the server, the sink and this sender share."""

    def __init__(self, url: str, count: int, headers: dict[str, str]) -> None:
        parts = httpx.URL(url)
        self._address = (parts.host, parts.port or 80)
        self._head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": parts.host, **headers}.items())
        self._count = count
        self._idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.Queue()
        )

    async def open(self) -> None:
        for _ in range(self._count):
            self._idle.put_nowait(await asyncio.open_connection(*self._address))

    async def acquire(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await self._idle.get()

    async def post(
        self, stream: tuple[asyncio.StreamReader, asyncio.StreamWriter], path: str, body: bytes
    ) -> int:
        """POST on an acquired connection, read the answer, give the connection back."""
        reader, writer = stream
        head = f"POST {path} HTTP/1.1\r\n{self._head}Content-Length: {len(body)}\r\n\r\n"
        writer.write(head.encode() + body)
        answer = await reader.readuntil(b"\r\n\r\n")
        at = answer.lower().find(b"\r\ncontent-length:")
        if at < 0:
            raise RuntimeError(f"no Content-Length in {answer!r}")
        await reader.readexactly(int(answer[at + 17 : answer.find(b"\r\n", at + 2)]))
        self._idle.put_nowait(stream)
        return int(answer[9:12])

    async def close(self) -> None:
        while not self._idle.empty():
            _reader, writer = self._idle.get_nowait()
            writer.close()


async def send_steadily(
    url: str, write_key: str, messages: list[dict[str, Any]], args: argparse.Namespace
) -> Sent:
    """Send `messages` at `args.rate` events/s, `args.latency_batch` per request, stamping
    each with its send time; sample the pipeline's backlog from /metrics meanwhile."""
    sent = Sent()
    auth = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
    pool = Connections(
        url, args.connections, {"Authorization": auth, "Content-Type": "application/json"}
    )
    await pool.open()
    done = asyncio.Event()
    began = time.perf_counter()

    async def post(chunk: list[dict[str, Any]], due: float) -> None:
        stream = await pool.acquire()
        sent.behind = max(sent.behind, time.perf_counter() - due)
        now = time.time_ns()
        for message in chunk:
            message["traits" if message["type"] == "identify" else "properties"]["sent_ns"] = now
        if len(chunk) == 1:
            path, body = f"/v1/{chunk[0]['type']}", _encode(chunk[0])
        else:
            path, body = "/v1/batch", _encode({"batch": chunk})
        at = time.perf_counter()
        sent.statuses[await pool.post(stream, path, body)] += 1
        sent.round_trips.append(time.perf_counter() - at)

    async def watch() -> None:
        names = ("seamline_log_end_offset", "seamline_pipeline_committed_offset")
        pattern = re.compile(rf"^({'|'.join(names)}) (\S+)$", re.M)
        async with httpx.AsyncClient(base_url=url) as client:
            while not done.is_set():
                found = dict(pattern.findall((await client.get("/metrics")).text))
                sent.backlog.append(int(float(found[names[0]]) - float(found[names[1]])))
                await asyncio.sleep(0.25)

    watcher = asyncio.create_task(watch())
    tasks: set[asyncio.Task[None]] = set()
    for start in range(0, len(messages), args.latency_batch):
        due = began + start / args.rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(post(messages[start : start + args.latency_batch], due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    sent.seconds = time.perf_counter() - began
    done.set()
    await watcher
    await pool.close()
    return sent


def expected_deliveries(data_dir: Path, messages: list[dict[str, Any]]) -> Counter[str]:
    """Deliveries per destination the messages should make, by routing them here."""
    engine = open_state(Settings(data_dir=data_dir))
    cache = RulesCache(SqlResourceStore(engine), data_dir / "functions")
    rules = cache.get(WORKSPACE)
    egress = egress_of(rules)
    found: Counter[str] = Counter()
    for item in as_items(messages):
        view = _as_dict(_encode(item.envelope.message))
        for instance in rules.destinations.values():
            routed = route(instance, egress, view)
            if not isinstance(routed, str):
                found[instance.name] += len(routed)
    cache.close()
    engine.dispose()
    return found


def percentile(ordered: Sequence[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else float("nan")


async def bench_latency(args: argparse.Namespace, console: Console, root: Path, sink: Sink) -> None:
    data_dir = root / "latency"
    settings = Settings(data_dir=data_dir)
    source = bootstrap(settings)
    engine = open_state(settings)
    resources = SqlResourceStore(engine)
    configure(resources, Sealer(key_from(None, data_dir)), sink.url, args)
    engine.dispose()
    total = int(args.rate * (args.latency_seconds + args.latency_warmup))
    messages = generate(total, args.seed + 1, "l")
    expected = expected_deliveries(data_dir, messages)
    env = {
        "SEAMLINE_CONFIG": str(root / "absent-seamline.toml"),
        "SEAMLINE_DELIVERY_POLL": str(args.delivery_poll),
        "SEAMLINE_PIPELINE_BATCH_SIZE": str(args.batch_size),
        "SEAMLINE_DESTINATIONS_ALLOW_PRIVATE": msgspec.json.encode(LOOPBACK).decode(),
    }
    if args.pipeline_yield is not None:
        env["SEAMLINE_PIPELINE_YIELD"] = str(args.pipeline_yield)
    env.update(item.split("=", 1) for item in args.env)
    server = Server(data_dir, None, **env).start(timeout=60)
    try:
        await asyncio.to_thread(sink.reset)
        console.print(
            f"latency: {total:,} events at {args.rate:,.0f}/s, {args.latency_batch} per request,"
            f" to `seamline serve` ({' '.join(f'{k}={v}' for k, v in env.items())})"
        )
        sent = await send_steadily(server.url, source.write_key, messages, args)
        waited = time.perf_counter()
        want = sum(expected.values())
        while time.perf_counter() - waited < args.drain_timeout:
            got, _timed = await asyncio.to_thread(sink.count)
            if got >= want:
                break
            await asyncio.sleep(0.1)
        stats = await asyncio.to_thread(sink.stats)
    finally:
        server.stop(timeout=60)
    report_latency(args, console, sent, stats, expected, messages)


def report_latency(
    args: argparse.Namespace,
    console: Console,
    sent: Sent,
    stats: SinkStats,
    expected: Counter[str],
    messages: list[dict[str, Any]],
) -> None:
    first = min((m.get("properties") or m.get("traits") or {}).get("sent_ns", 0) for m in messages)
    cutoff = first + int(args.latency_warmup * 1e9)
    total: dict[str, list[float]] = {name: [] for name in (*DESTINATIONS, "all")}
    inside: dict[str, list[float]] = {name: [] for name in (*DESTINATIONS, "all")}
    for path, sent_ns, received_ns, accepted in stats.timed:
        if sent_ns < cutoff:
            continue
        name = path.split("/")[1]
        accepted_ns = datetime.fromisoformat(accepted).timestamp() * 1e9
        for key in (name, "all"):
            total[key].append((received_ns - sent_ns) / 1e6)
            inside[key].append((received_ns - accepted_ns) / 1e6)
    events = stats.per_destination(stats.events)
    table = Table(
        title=f"Event → destination latency at {args.rate:,.0f} events/s "
        f"({args.latency_batch} per request, {args.latency_seconds:.0f} s after "
        f"{args.latency_warmup:.0f} s warm-up), ms"
    )
    for column in ("destination", "delivered / expected", "p50", "p95", "p99", "max"):
        table.add_column(column, justify="right")
    table.add_column("accepted → delivered p50 / p99", justify="right")
    for name in (*DESTINATIONS, "all"):
        ordered, after = sorted(total[name]), sorted(inside[name])
        want = sum(expected.values()) if name == "all" else expected[name]
        got = sum(events.values()) if name == "all" else events[name]
        table.add_row(
            name,
            f"{got:,} / {want:,}",
            *(f"{percentile(ordered, q):,.0f}" for q in (0.5, 0.95, 0.99)),
            f"{ordered[-1]:,.0f}" if ordered else "-",
            f"{percentile(after, 0.5):,.0f} / {percentile(after, 0.99):,.0f}",
        )
    console.print(table)
    trips = sorted(sent.round_trips)
    console.print(
        f"sent {len(messages):,} events in {sent.seconds:.1f} s "
        f"({len(messages) / sent.seconds:,.0f}/s), statuses {dict(sent.statuses)}, "
        f"at most {sent.behind * 1000:.0f} ms behind schedule; Tracking API round trip "
        f"p50 {percentile(trips, 0.5) * 1000:.1f} ms, p99 {percentile(trips, 0.99) * 1000:.1f} ms"
    )
    if sent.backlog:
        mean = statistics.mean(sent.backlog)
        console.print(
            f"pipeline backlog (log end - committed offset, sampled every 0.25 s): "
            f"mean {mean:,.0f}, max {max(sent.backlog):,} records, i.e. the pipeline ran "
            f"~{mean / args.rate * 1000:,.0f} ms behind the Tracking API on average"
        )
    console.print(f"command: {command(args, 'latency')}")


# -------------------------------------------------------------------------------------- main


def command(args: argparse.Namespace, part: str) -> str:
    parts = [
        ".venv/bin/python benchmarks/deliver.py",
        f"--only {part}",
        f"--seed {args.seed}",
        f"--batch-size {args.batch_size}",
        f"--webhook-batch {args.webhook_batch}",
        f"--concurrency {args.concurrency}",
    ]
    if part != "latency":
        parts.append(f"--events {args.events}")
    if part != "route":
        parts.append(f"--delivery-poll {args.delivery_poll}")
        if args.pipeline_yield is not None:
            parts.append(f"--pipeline-yield {args.pipeline_yield}")
    if part == "latency":
        parts += [
            f"--rate {args.rate:g}",
            f"--latency-seconds {args.latency_seconds:g}",
            f"--latency-warmup {args.latency_warmup:g}",
            f"--latency-batch {args.latency_batch}",
            f"--connections {args.connections}",
            *(f"--env {item}" for item in args.env),
        ]
    return " ".join(parts)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--events", type=int, default=100_000, help="events for route and deliver (100,000)")
    add("--only", action="append", choices=("route", "deliver", "latency"), help="repeatable")
    add("--seed", type=int, default=7)
    add("--batch-size", type=int, default=Settings().pipeline_batch_size, help="pipeline batch")
    add("--webhook-batch", type=int, default=500, help="events per request to `lake` (500)")
    add("--concurrency", type=int, default=4, help="workers of `orders` and `products` (4)")
    add("--delivery-poll", type=float, default=0.05, help="seconds (Settings default 0.2)")
    add("--pipeline-yield", type=float, default=None, help="default: the Settings default")
    add("--rate", type=float, default=1000, help="latency: events/s sent (1,000)")
    add("--latency-seconds", type=float, default=20, help="latency: seconds measured (20)")
    add("--latency-warmup", type=float, default=2, help="latency: seconds not measured (2)")
    add("--latency-batch", type=int, default=1, help="latency: events per request (1)")
    add("--connections", type=int, default=32, help="latency: most requests in flight (32)")
    add("--drain-timeout", type=float, default=600, help="seconds to wait for deliveries")
    add("--env", action="append", default=[], metavar="SEAMLINE_X=VALUE", help="latency server")
    add("--data-root", type=Path, default=None, help="where the temporary directory is made")
    args = parser.parse_args()
    for item in args.env:
        if "=" not in item or not item.startswith("SEAMLINE_"):
            parser.error(f"--env takes SEAMLINE_NAME=VALUE, got {item!r}")
    return args


async def run(args: argparse.Namespace, console: Console) -> None:
    parts = args.only or ["route", "deliver", "latency"]
    root = Path(tempfile.mkdtemp(prefix="seamline-deliver-bench-", dir=args.data_root))
    sink = Sink()
    console.print(
        f"{os.cpu_count()} CPUs; the sink is its own process (and for latency so are the server"
        " and the sender): on a small machine they share the cores"
    )
    try:
        if "route" in parts:
            bench_route(args, console, root, sink.url)
        if "deliver" in parts:
            await bench_deliver(args, console, root, sink)
        if "latency" in parts:
            await bench_latency(args, console, root, sink)
    finally:
        sink.close()
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    args = arguments()
    # As `seamline serve` does: the delivery threads and the pipeline share the interpreter.
    sys.setswitchinterval(0.001)
    tune_runtime()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(run(args, Console(width=150)))


if __name__ == "__main__":
    main()
