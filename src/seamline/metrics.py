"""Prometheus metrics, one registry per running Seamline (so tests can run several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """Every metric Seamline exports on `/metrics`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "seamline_ingest_requests",
            "Tracking API requests by endpoint kind and HTTP status.",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.messages = Counter(
            "seamline_ingest_messages",
            "Messages received by the Tracking API, by outcome (accepted or rejected).",
            ["outcome"],
            registry=self.registry,
        )
        self.accepted = self.messages.labels("accepted")
        self.rejected = self.messages.labels("rejected")
        self.append_seconds = Histogram(
            "seamline_log_append_seconds",
            "Time from a request's append to the log being durable (includes group commit).",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=self.registry,
        )
        self.pipeline_processed = Counter(
            "seamline_pipeline_messages",
            "Log records processed by the pipeline.",
            registry=self.registry,
        )
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
