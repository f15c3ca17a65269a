"""Sentry metric alerts: actions, severities, and the alert identity."""

from __future__ import annotations

from typing import Any

import pytest

from routing.intake.alert import AlertStatus, Severity
from routing.intake.fingerprint import fingerprint_of
from tests.integrations.sources.sentry_support import parse


def metric_payload(action: str, **metric: Any) -> dict[str, Any]:
    body = {
        "id": "88",
        "identifier": "3",
        "title": "Sleepy Otter",
        "status": 20,
        "date_started": "2024-03-02T11:00:00Z",
        "date_closed": None,
        "projects": ["checkout"],
        "alert_rule": {"id": "5", "name": "Checkout error rate", "projects": ["checkout"]},
    }
    body.update(metric)
    return {
        "action": action,
        "data": {
            "metric_alert": body,
            "description_title": f"{action.title()}: Checkout error rate",
            "description_text": "52 events in the last 10 minutes",
            "web_url": "https://sentry.example/organizations/acme/alerts/rules/details/5/",
        },
        "installation": {"uuid": "00000000-0000-4000-8000-000000000000"},
    }


@pytest.mark.parametrize(
    ("action", "status", "severity"),
    [
        ("critical", AlertStatus.FIRING, Severity.CRITICAL),
        ("warning", AlertStatus.FIRING, Severity.WARNING),
        ("resolved", AlertStatus.RESOLVED, Severity.WARNING),
    ],
)
def test_metric_alert_actions(action: str, status: AlertStatus, severity: Severity) -> None:
    (alert,) = parse("metric_alert", metric_payload(action)).alerts
    assert (alert.status, alert.severity) == (status, severity)
    assert alert.fingerprint == fingerprint_of("sentry-metric", {"metric_alert_id": "88"})
    assert alert.fingerprint_fields == {"metric_alert_id": "88"}
    assert alert.title == "Checkout error rate"  # the rule name: stable across actions
    assert alert.description == "52 events in the last 10 minutes"
    assert alert.service == "checkout"
    assert "alertname" not in alert.labels
    assert alert.source_url is not None and alert.source_url.endswith("/details/5/")


def test_metric_alert_open_is_a_warning_unless_the_incident_is_critical() -> None:
    assert (
        parse("metric_alert", metric_payload("open", status=1)).alerts[0].severity
        is Severity.WARNING
    )
    assert (
        parse("metric_alert", metric_payload("open", status=20)).alerts[0].severity
        is Severity.CRITICAL
    )
    assert parse("metric_alert", metric_payload("open")).alerts[0].status is AlertStatus.FIRING


def test_metric_alert_falls_back_to_the_rule_id() -> None:
    payload = metric_payload("critical")
    del payload["data"]["metric_alert"]["id"]
    (alert,) = parse("metric_alert", payload).alerts
    assert alert.fingerprint == fingerprint_of("sentry-metric", {"metric_alert_id": "5"})
