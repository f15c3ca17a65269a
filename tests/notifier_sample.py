"""A fully populated Notification for notifier tests; override any field by keyword."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from integrations.notifiers.base import Notification
from routing.alert import Severity

FIRST_SEEN = datetime(2024, 5, 1, 3, 12, tzinfo=UTC)
LAST_SEEN = datetime(2024, 5, 1, 3, 40, tzinfo=UTC)


def sample_notification(**overrides: Any) -> Notification:
    base = Notification(
        incident_id=42,
        incident_title="High error rate on checkout API",
        severity=Severity.CRITICAL,
        service="checkout",
        status="triggered",
        occurrences=12,
        alert_count=2,
        first_seen=FIRST_SEEN,
        last_seen=LAST_SEEN,
        source_urls=["https://prometheus.example.org/graph?g0.expr=rate%28http_5xx%29"],
        runbook_url="https://runbooks.example.org/checkout/5xx",
        policy="checkout-oncall",
        step="step 2 of 2, pass 1 of 3",
        recipient="alice",
        ack_hint="/incident ack 42",
        labels={"env": "prod", "team": "payments"},
        summaries=[
            "node-7.prod:9100 API 5xx above 5% for 10m",
            "node-9.prod:9100 API 5xx above 5% for 10m",
        ],
        incident_url="https://firebell.example.org/incidents/42",
    )
    return replace(base, **overrides)
