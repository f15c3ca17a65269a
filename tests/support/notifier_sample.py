"""Notifier test helpers: a fully populated Notification (override any field by keyword), and
running one notifier call on a fresh httpx client."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx

from integrations.notifiers.base import Notification
from routing.intake.alert import Severity

FIRST_SEEN = datetime(2024, 5, 1, 3, 12, tzinfo=UTC)
LAST_SEEN = datetime(2024, 5, 1, 3, 40, tzinfo=UTC)
N = TypeVar("N")
T = TypeVar("T")


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


def run_with_client(make: Callable[[httpx.AsyncClient], N], call: Callable[[N], Awaitable[T]]) -> T:
    """Build a notifier on a fresh httpx client, run one call on it, close the client."""

    async def go() -> T:
        async with httpx.AsyncClient(timeout=5) as client:
            return await call(make(client))

    return asyncio.run(go())
