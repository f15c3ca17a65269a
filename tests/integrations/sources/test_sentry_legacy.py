"""The legacy Sentry webhook plugin: its payload and the fields its errors name."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from integrations.sources import SourceOptions
from integrations.sources.sentry_plugin import sentry_legacy
from routing.intake.alert import AlertStatus, Severity
from tests.integrations.sources.sentry_support import ISSUE_FP, ISSUE_ID, compact
from tests.support.sources import payload_error


def legacy_payload(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": ISSUE_ID,
        "project": "checkout",
        "project_name": "Checkout",
        "project_slug": "checkout",
        "logger": None,
        "level": "warning",
        "culprit": "checkout.views in pay",
        "message": "Payment provider slow",
        "url": "https://sentry.example/acme/checkout/issues/4242/?referrer=webhooks_plugin",
        "triggering_rules": ["Slow payments", "Any new issue"],
        "event": {
            "event_id": "abc",
            "id": "abc",
            "tags": [["level", "warning"]],
            "timestamp": 1709373900.25,
        },
    }
    body.update(overrides)
    return body


def test_legacy_plugin_payload() -> None:
    options = SourceOptions(services={"checkout": "shop"})
    result = sentry_legacy.parse(compact(legacy_payload()), {}, options)
    (alert,) = result.alerts
    assert alert.source == "sentry-legacy"
    assert alert.fingerprint == ISSUE_FP
    assert alert.status is AlertStatus.FIRING
    assert alert.severity is Severity.WARNING
    assert alert.service == "shop" and alert.labels["service"] == "shop"
    assert alert.labels["project"] == "checkout"
    assert alert.title == "Payment provider slow"
    assert alert.annotations["triggered_rule"] == "Slow payments, Any new issue"
    assert alert.source_url is not None and alert.source_url.endswith("referrer=webhooks_plugin")
    assert alert.starts_at == datetime(2024, 3, 2, 10, 5, 0, 250000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"id": None}, "id"),
        ({"triggering_rules": "x"}, "triggering_rules"),
        ({"event": 3}, "event"),
    ],
)
def test_legacy_errors(overrides: dict[str, Any], field: str) -> None:
    assert payload_error(sentry_legacy, compact(legacy_payload(**overrides))).field == field
