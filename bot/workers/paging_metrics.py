"""The paging worker's Prometheus metrics, registered on the process's own registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class PagingMetrics:
    """Delivery counters and latency, registered on the app's own registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.notifications = Counter(
            "firebell_notifications",
            "Delivery attempts by notifier kind and outcome (sent, retry, failed)",
            ["kind", "outcome"],
            registry=registry,
        )
        self.latency = Histogram(
            "firebell_notification_latency_seconds",
            "From a notification being due to it being handed to its notifier (first attempt)",
            ["kind"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=registry,
        )
        self.steps = Counter(
            "firebell_escalation_steps",
            "Escalation steps come due, by what they did (page, pause, stop, done)",
            ["outcome"],
            registry=registry,
        )
