"""Prometheus metrics, one registry per running Seamline (so tests can run several), and how the
processes of one data directory add up on `/metrics`.

Two kinds of metric:

- **counted** (counters, the histogram): incremented by the process that does the work — a
  collect worker's requests, the pipeline's messages, the deliver process's deliveries. Each
  process writes a snapshot of its own to `DATA/run/metrics/<role>-<pid>-<token>.json` (0600,
  replaced atomically) once a second when something changed, and at a clean stop. A scrape on
  any collect worker first writes its own snapshot, then sums every snapshot of the directory
  (its own from memory), so every worker answers the same totals.
- **computed at scrape time** (gauges: log end, committed offset, lag, role processes and
  restarts, pending deliveries, dead letters): read from the log and the stores by the
  answering process and never summed, since every process would read the same value.

Why snapshot files and not prometheus_client's multiprocess mode: that mode is process-wide
(PROMETHEUS_MULTIPROC_DIR read when a metric is made, one directory for every registry of the
process), so it would merge the several Seamlines a test runs in one process and needs an
environment variable that library code must not read; it adds an mmap write to every
increment on the Tracking API's hot path; and its files take the process's umask. Snapshots
cost nothing per increment, keep the registries separate, and take ~100 lines.

What the totals do:

- **A process restarts.** A dead process's last snapshot stays in the directory, so totals do
  not drop; its replacement starts a file of its own from zero. What a SIGKILLed process counted
  after its last snapshot (under a second) is not in the totals; nothing is counted twice.
- **The supervisor starts.** It clears the directory: every counter starts from 0 again, which
  Prometheus reads as a counter reset (`rate()` and `increase()` handle it).
- **Monotonic across workers.** Each worker writes its snapshot before it answers, and reads
  the others' latest, so a later scrape on another worker never shows less.
- **Several machines** (`serve --role R`): each `/metrics` sums the processes that share its
  data directory, i.e. its own machine; sum over instances in PromQL. A machine without a
  collect process sharing its data directory has no `/metrics` of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

logger = logging.getLogger(__name__)

SNAPSHOT_SECONDS = 1.0
"""How often a process writes its snapshot when something changed: how stale another
process's counts may be on a scrape."""

Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]
Family = tuple[str, str, str, list[tuple[str, dict[str, str], float]]]


def shared_dir(data_root: Path) -> Path:
    """Where the processes of a data directory leave their counts."""
    return data_root / "run" / "metrics"


def clear_shared(directory: Path) -> None:
    """Forget every process's counts (the supervisor, at its start)."""
    shutil.rmtree(directory, ignore_errors=True)


class Metrics:
    """Every metric Seamline exports on `/metrics`; `share` writes and sums the counted ones."""

    def __init__(self, shared: Path | None = None, process: str = "all") -> None:
        self.registry = CollectorRegistry()  # what /metrics renders
        self.counted = CollectorRegistry()  # this process's counters, summed over processes
        self.requests = Counter(
            "seamline_ingest_requests",
            "Tracking API requests by endpoint kind and HTTP status.",
            ["endpoint", "status"],
            registry=self.counted,
        )
        self.messages = Counter(
            "seamline_ingest_messages",
            "Messages received by the Tracking API, by outcome (accepted, rejected, or "
            "suppressed: answered 200 and dropped before the log, as Segment does).",
            ["outcome"],
            registry=self.counted,
        )
        self.accepted = self.messages.labels("accepted")
        self.rejected = self.messages.labels("rejected")
        self.suppressed = self.messages.labels("suppressed")
        self.append_seconds = Histogram(
            "seamline_log_append_seconds",
            "Time from a request's append to the log being durable (includes group commit).",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=self.counted,
        )
        self.pipeline_processed = Counter(
            "seamline_pipeline_messages",
            "Messages the pipeline took through every stage (stored).",
            registry=self.counted,
        )
        self.pipeline_dropped = Counter(
            "seamline_pipeline_dropped",
            "Messages the pipeline dropped, by reason (duplicate, suppressed).",
            ["reason"],
            registry=self.counted,
        )
        self.pipeline_held = Counter(
            "seamline_pipeline_held",
            "Messages the pipeline held, by reason (plan, privacy, error).",
            ["reason"],
            registry=self.counted,
        )
        self.violations = Counter(
            "seamline_protocols_violations",
            "Tracking plan violations found by the protocols stage.",
            registry=self.counted,
        )
        self.engage_changes = Counter(
            "seamline_engage_changes",
            "Computed trait and audience values the pipeline's Engage stage changed.",
            registry=self.counted,
        )
        self.deliveries = Counter(
            "seamline_deliveries",
            "Outbox rows by destination instance and outcome (delivered, retried, failed).",
            ["destination", "outcome"],
            registry=self.counted,
        )
        self._pipeline_seen: dict[tuple[Counter, str], int] = {}
        self.pipeline_offset = Gauge(
            "seamline_pipeline_committed_offset",
            "Sum over the log's partitions of the offset the pipeline has committed.",
            registry=self.registry,
        )
        self.log_end = Gauge(
            "seamline_log_end_offset",
            "Sum over the log's partitions of the offset after the last durable record.",
            registry=self.registry,
        )
        self.log_lag = Gauge(
            "seamline_log_lag",
            "Records of a log partition not yet committed by the pipeline (end - committed).",
            ["partition"],
            registry=self.registry,
        )
        self.role_processes = Gauge(
            "seamline_role_processes",
            "Processes of a role the supervisor runs now.",
            ["role"],
            registry=self.registry,
        )
        self.role_restarts = Gauge(
            "seamline_role_restarts",
            "Times the supervisor restarted a role's processes since it started.",
            ["role"],
            registry=self.registry,
        )
        self.deliveries_pending = Gauge(
            "seamline_deliveries_pending",
            "Deliveries waiting in the outbox (every workspace).",
            registry=self.registry,
        )
        self.dead_letters = Gauge(
            "seamline_dead_letters",
            "Dead letters not replayed (every workspace).",
            registry=self.registry,
        )
        # Read from the state store's record of expiry runs at scrape time (the runs may be
        # made by the pipeline's process or by `seamline retention expire`), never summed.
        self.retention = RetentionTotals()
        self.registry.register(self.retention)
        self.share = SharedCounts(self.counted, shared, process)
        self.registry.register(self.share)

    def pipeline_totals(
        self,
        *,
        duplicates: int,
        suppressed: int,
        held: dict[str, int],
        violations: int,
        engage_changes: int,
    ) -> None:
        """Count what the pipeline's stages report as running totals (since its start)."""
        totals = [
            (self.pipeline_dropped, "duplicate", duplicates),
            (self.pipeline_dropped, "suppressed", suppressed),
            (self.violations, "", violations),
            (self.engage_changes, "", engage_changes),
            *((self.pipeline_held, reason, n) for reason, n in held.items()),
        ]
        for counter, label, total in totals:
            new = total - self._pipeline_seen.get((counter, label), 0)
            if new > 0:
                (counter.labels(label) if label else counter).inc(new)
                self._pipeline_seen[counter, label] = total

    def delivered(self, destination: str, delivered: int, retried: int, failed: int) -> None:
        """Count one delivery attempt's outcomes for a destination instance."""
        for outcome, n in (("delivered", delivered), ("retried", retried), ("failed", failed)):
            if n:
                self.deliveries.labels(destination, outcome).inc(n)


class RetentionTotals:
    """What retention expired, over every run of the expiry job (set by `update`)."""

    def __init__(self) -> None:
        self._values: tuple[int, int, int, float | None] = (0, 0, 0, None)

    def update(self, events: int, log_records: int, runs: int, last_run: float | None) -> None:
        self._values = (events, log_records, runs, last_run)

    def collect(self) -> Iterable[Metric]:
        events, log_records, runs, last_run = self._values
        yield CounterMetricFamily(
            "seamline_retention_expired_events",
            "Stored events the retention expiry removed from the event store.",
            value=events,
        )
        yield CounterMetricFamily(
            "seamline_retention_expired_log_records",
            "Log records the retention expiry removed (whole local log segments).",
            value=log_records,
        )
        yield CounterMetricFamily(
            "seamline_retention_runs", "Runs of the retention expiry job.", value=runs
        )
        if last_run is not None:
            yield GaugeMetricFamily(
                "seamline_retention_last_run_timestamp_seconds",
                "When the retention expiry job last ran (Unix time).",
                value=last_run,
            )


class SharedCounts:
    """A collector of `counted` summed with the snapshots of the other processes in
    `directory` (or `counted` alone without one); `run` keeps this process's snapshot fresh."""

    def __init__(self, counted: CollectorRegistry, directory: Path | None, process: str) -> None:
        self._counted = counted
        self._directory = directory
        self._name = f"{process}-{os.getpid()}-{secrets.token_hex(3)}.json"
        self._written = b""
        self._lock = threading.Lock()

    def collect(self) -> Iterable[Metric]:
        own = list(self._counted.collect())
        if self._directory is None:
            return own
        self.write()
        families = {family.name: family for family in own}
        series = _series(own)
        for snapshot in self._others():
            for name, kind, documentation, samples in snapshot:
                family = families.setdefault(name, Metric(name, documentation, kind))
                add = series.setdefault(family.name, {})
                for sample_name, labels, value in samples:
                    key = (sample_name, tuple(sorted(labels.items())))
                    add[key] = add.get(key, 0.0) + value
        return [_family(family, series.get(name, {})) for name, family in families.items()]

    def write(self) -> None:
        """Write this process's snapshot if anything changed since the last one."""
        if self._directory is None:
            return
        body = json.dumps(
            {"pid": os.getpid(), "families": _snapshot(self._counted.collect())},
            separators=(",", ":"),
        ).encode()
        with self._lock:
            if body == self._written and (self._directory / self._name).exists():
                return  # unchanged, and not cleared by a starting supervisor
            try:
                _write_private(self._directory, self._name, body)
                self._written = body
            except OSError as error:
                logger.warning(
                    "cannot write this process's metrics to %s: %s", self._directory, error
                )

    async def run(self, stop: asyncio.Event) -> None:
        """Write the snapshot every SNAPSHOT_SECONDS until `stop`, then once more."""
        while not stop.is_set():
            self.write()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), SNAPSHOT_SECONDS)
        self.write()

    def _others(self) -> Iterator[list[Family]]:
        """The other processes' snapshots (one that cannot be read is skipped, and said)."""
        assert self._directory is not None
        try:
            names = sorted(os.listdir(self._directory))
        except FileNotFoundError:
            return
        for name in names:
            if name == self._name or not name.endswith(".json"):
                continue
            try:
                families = _parsed(json.loads((self._directory / name).read_bytes()))
            except FileNotFoundError:
                continue  # cleared by a starting supervisor meanwhile
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
                logger.warning("metrics snapshot %s skipped: %s", name, error)
                continue
            yield families


def _snapshot(families: Iterable[Metric]) -> list[list[Any]]:
    """[name, type, help, [[sample, labels, value] …]] per family."""
    return [
        [
            family.name,
            family.type,
            family.documentation,
            [[s.name, s.labels, s.value] for s in family.samples if _summable(s.name)],
        ]
        for family in families
    ]


def _parsed(found: Any) -> list[Family]:
    """A snapshot's families, checked (TypeError, ValueError or KeyError when malformed)."""
    families = []
    for name, kind, documentation, samples in found["families"]:
        checked = [
            (str(sample), {str(k): str(v) for k, v in labels.items()}, float(value))
            for sample, labels, value in samples
        ]
        families.append((str(name), str(kind), str(documentation), checked))
    return families


def _summable(sample: str) -> bool:
    """All but `_created`: a timestamp per process, which cannot be summed."""
    return not sample.endswith("_created")


def _series(families: Iterable[Metric]) -> dict[str, Series]:
    found: dict[str, Series] = {}
    for family in families:
        series = found.setdefault(family.name, {})
        for sample in family.samples:
            if _summable(sample.name):
                key = (sample.name, tuple(sorted(sample.labels.items())))
                series[key] = series.get(key, 0.0) + sample.value
    return found


def _family(template: Metric, series: Series) -> Metric:
    family = Metric(template.name, template.documentation, template.type)
    for (sample_name, labels), value in series.items():
        family.add_sample(sample_name, dict(labels), value)
    return family


def _write_private(directory: Path, name: str, body: bytes) -> None:
    """Write `directory/name` (0600, the directory 0700) and replace it atomically."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = directory / f".{name}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(body)
    os.replace(temporary, directory / name)
