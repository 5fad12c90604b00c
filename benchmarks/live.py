"""The live debugger's stream under load: one `GET /api/v1/live` open on a `seamline serve`
while 1,000 events/s arrive for 10 s.

    .venv/bin/python benchmarks/live.py [--rate EVENTS_PER_S] [--duration S] [--batch N]

The server runs its roles as processes (collect, pipeline, deliver), so the stream is fed from
the log, not from the collect worker's memory. Events go in as `/v1/batch` requests of
`--batch` events from `--senders` threads, paced to the rate. Prints what the stream's last
`stats` said (seen, shown, dropped), how many `message` events arrived, and the lag of those
shown: the time from the server's receivedAt to the moment the client read the message (one
machine, one clock).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: make `tests` importable

import httpx  # noqa: E402

from tests.e2e.server import Server, run_cli  # noqa: E402


class Reader(threading.Thread):
    """Reads the stream until told to stop: the stats it sends and the lag of each message."""

    def __init__(self, url: str, token: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.token = token
        self.ready = threading.Event()
        self.stop = threading.Event()
        self.stats: dict[str, int] = {}
        self.stats_events = 0
        self.lags: list[float] = []

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with (
            httpx.Client(timeout=None) as client,
            client.stream("GET", f"{self.url}/api/v1/live", headers=headers) as response,
        ):
            name = ""
            for line in response.iter_lines():
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    self._event(name, json.loads(line[6:]))
                    self.ready.set()
                if self.stop.is_set():
                    return

    def _event(self, name: str, data: dict[str, Any]) -> None:
        if name == "stats":
            self.stats = data
            self.stats_events += 1
        elif name == "message":
            received = datetime.fromisoformat(data["receivedAt"].replace("Z", "+00:00"))
            self.lags.append(time.time() - received.timestamp())


def send(url: str, key: str, rate: float, duration: float, batch: int, name: str = "") -> int:
    """Send `rate` events a second for `duration` seconds; how many were accepted."""
    sent = 0
    every = batch / rate
    start = time.monotonic()
    with httpx.Client(base_url=url, timeout=30) as client:
        n = 0
        while time.monotonic() - start < duration:
            events = [
                {
                    "type": "track",
                    "userId": f"u{n % 500}",
                    "event": "Bench",
                    "messageId": f"m{name}{n}-{i}",
                }
                for i in range(batch)
            ]
            answer = client.post("/v1/batch", json={"batch": events, "writeKey": key})
            answer.raise_for_status()
            sent += batch
            n += 1
            pause = start + n * every - time.monotonic()
            if pause > 0:
                time.sleep(pause)
    return sent


def collect_cpu(data: Path) -> float:
    """CPU seconds (user + system) the collect worker has used so far."""
    found = json.loads((data / "run" / "roles.json").read_text())
    [pid] = [p["pid"] for p in found["processes"] if p["role"] == "collect"]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def send_from(url: str, key: str, args: argparse.Namespace) -> int:
    """`args.senders` threads, each sending its share of the rate (one client waits for each
    answer, so one alone falls short of 1,000 events/s on a loaded machine)."""
    counts: list[int] = []

    def one(index: int) -> None:
        share = args.rate / args.senders
        counts.append(send(url, key, share, args.duration, args.batch, f"{index}."))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(args.senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=1000, help="events per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of sending")
    parser.add_argument("--batch", type=int, default=50, help="events per request")
    parser.add_argument("--senders", type=int, default=4, help="threads sending")
    parser.add_argument(
        "--no-stream", action="store_true", help="no stream open: the collect worker's baseline"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="seamline-live-") as root:
        data = Path(root) / "data"
        # A loaded machine starts the roles slowly: wait longer than the tests do.
        server = Server(data)
        try:
            server.start(timeout=300)
            token = run_cli(data, "tokens", "create", "--name", "bench", "--json")["token"]
            reader = Reader(server.url, token)
            if not args.no_stream:
                reader.start()
                if not reader.ready.wait(30):
                    print("the stream did not start", file=sys.stderr)
                    return 1
            cpu = collect_cpu(data)
            began = time.monotonic()
            sent = send_from(server.url, server.write_key, args)
            took = time.monotonic() - began
            deadline = time.monotonic() + 30
            while (
                not args.no_stream
                and reader.stats.get("seen", 0) < sent
                and time.monotonic() < deadline
            ):
                time.sleep(0.1)
            cpu = collect_cpu(data) - cpu
            caught_up = time.monotonic() - began - took
            reader.stop.set()
            stats = reader.stats
        finally:
            server.stop()
    lags = sorted(reader.lags)
    print(
        f"sent {sent} events in {took:.1f} s ({sent / took:.0f}/s), batches of {args.batch}, "
        f"{args.senders} senders"
    )
    print(f"collect worker CPU while sending: {cpu:.1f} s ({cpu / sent * 1e6:.0f} us per event)")
    if args.no_stream:
        return 0
    print(
        f"stream stats: seen {stats.get('seen')} shown {stats.get('shown')} "
        f"dropped {stats.get('dropped')}; {len(lags)} message events, "
        f"{reader.stats_events} stats events"
    )
    print(f"seen all {caught_up:.2f} s after the last request")
    if lags:
        p95 = lags[int(0.95 * (len(lags) - 1))]
        print(
            f"lag of shown messages (receivedAt → read): median "
            f"{statistics.median(lags) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
            f"max {lags[-1] * 1000:.0f} ms"
        )
    return 0 if stats.get("seen") == sent else 1


if __name__ == "__main__":
    sys.exit(main())
