"""Prometheus metrics for the receive path and the HTTP server (one registry per app)."""

from __future__ import annotations

from functools import partial

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from bot.runtime.intake_queue import IntakeQueue, Lane


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.received = Counter(
            "firebell_alerts_received",
            "Alerts parsed from accepted webhooks and log lines",
            ["source"],
            registry=self.registry,
        )
        self.decisions = Counter(
            "firebell_alert_decisions",
            "Dedup decisions (new, repeat, resolve, reopen, pending, stale)",
            ["source", "decision"],
            registry=self.registry,
        )
        self.deduplicated = Counter(
            "firebell_alerts_deduplicated",
            "Alerts collapsed into an open alert with the same fingerprint",
            ["source"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "firebell_requests_rejected",
            "Requests refused, by source and reason",
            ["source", "reason"],
            registry=self.registry,
        )
        self.unparsed = Counter(
            "firebell_unparsed_lines",
            "Input lines kept in the inbox that no parser understood",
            ["source"],
            registry=self.registry,
        )
        self.dropped = Counter(
            "firebell_dropped",
            "Syslog lines dropped unstored, by reason "
            "(intake_full, writer_down, database_unavailable, store_failed)",
            ["reason"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "firebell_intake_queue_depth",
            "Submissions waiting for the intake writer, by lane (request, syslog)",
            ["lane"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "firebell_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route", "status"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )

    def track_intake(self, queue: IntakeQueue) -> None:
        """Read the intake queue's depth per lane at each scrape."""
        for lane in Lane:
            self.queue_depth.labels(lane.name.lower()).set_function(partial(queue.depth, lane))
