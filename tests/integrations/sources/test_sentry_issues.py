"""Sentry issues, event alerts and errors: actions, levels, projects, and one shared identity."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from integrations.sources import SOURCES, SourceOptions
from integrations.sources.sentry import sentry
from integrations.sources.sentry_plugin import sentry_legacy
from routing.intake.alert import UNKNOWN_SERVICE, AlertStatus, Severity
from routing.intake.fingerprint import fingerprint_of
from tests.integrations.sources.sentry_support import (
    ISSUE_FP,
    ISSUE_ID,
    NO_OPTIONS,
    compact,
    issue_payload,
    parse,
)


def event_payload(**event: Any) -> dict[str, Any]:
    body = {
        "event_id": "9f1c0d9e2b7a4c55a1e0f00d1a2b3c4d",
        "issue_id": ISSUE_ID,
        "title": "KeyError: 'cart'",
        "culprit": "checkout.views in pay",
        "level": "fatal",
        "project": 17,
        "environment": "production",
        "datetime": "2024-03-02T10:05:00Z",
        "timestamp": 1709373900.0,
        "url": "https://sentry.example/api/0/projects/acme/checkout/events/9f1c0d9e/",
        "web_url": "https://sentry.example/organizations/acme/issues/4242/events/9f1c0d9e/",
        "issue_url": "https://sentry.example/api/0/issues/4242/",
    }
    body.update(event)
    return body


def test_registered_under_their_names() -> None:
    assert SOURCES["sentry"] is sentry
    assert SOURCES["sentry-legacy"] is sentry_legacy


def test_issue_created_maps_every_field() -> None:
    (alert,) = parse("issue", issue_payload("created")).alerts
    assert alert.source == "sentry"
    assert alert.status is AlertStatus.FIRING
    assert alert.severity is Severity.ERROR
    assert alert.service == "checkout"
    assert alert.title == "KeyError: 'cart'"
    assert alert.description == "checkout.views in pay"
    assert alert.labels == {"service": "checkout", "project": "checkout", "level": "error"}
    assert "alertname" not in alert.labels  # grouping correlates Sentry by service
    assert alert.annotations["sentry_action"] == "created"
    assert alert.annotations["short_id"] == "CHECKOUT-7"
    assert alert.starts_at == datetime(2024, 3, 2, 10, 0, 0, 500000, tzinfo=UTC)
    assert alert.fingerprint == ISSUE_FP
    assert alert.fingerprint_fields == {"issue_id": ISSUE_ID}


@pytest.mark.parametrize(
    ("action", "status"),
    [
        ("created", AlertStatus.FIRING),
        ("unresolved", AlertStatus.FIRING),
        ("assigned", AlertStatus.FIRING),
        ("resolved", AlertStatus.RESOLVED),
        ("ignored", AlertStatus.RESOLVED),
        ("archived", AlertStatus.RESOLVED),
    ],
)
def test_issue_actions(action: str, status: AlertStatus) -> None:
    (alert,) = parse("issue", issue_payload(action)).alerts
    assert alert.status is status
    assert alert.annotations["sentry_action"] == action
    assert alert.fingerprint == ISSUE_FP


def test_assigned_issue_carries_the_assignee() -> None:
    assignee = {"type": "user", "id": "9", "name": "Ada", "email": "ada@example.com"}
    (alert,) = parse("issue", issue_payload("assigned", assignedTo=assignee)).alerts
    assert alert.annotations["assignee"] == "Ada"


def test_unknown_issue_action_is_recorded_without_alerts() -> None:
    result = parse("issue", issue_payload("exploded"))
    assert result.alerts == [] and result.note == "recorded sentry issue.exploded"


def test_event_alert_error_issue_and_legacy_share_one_identity() -> None:
    (from_event,) = parse(
        "event_alert",
        {
            "action": "triggered",
            "data": {"event": event_payload(), "triggered_rule": "Checkout errors"},
        },
    ).alerts
    (from_error,) = parse("error", {"action": "created", "data": {"error": event_payload()}}).alerts
    (resolved,) = parse("issue", issue_payload("resolved")).alerts
    legacy = sentry_legacy.parse(
        compact({"id": ISSUE_ID, "project_slug": "checkout"}), {}, NO_OPTIONS
    )
    fingerprints = {from_event.fingerprint, from_error.fingerprint, resolved.fingerprint}
    fingerprints.add(legacy.alerts[0].fingerprint)
    assert fingerprints == {ISSUE_FP}
    assert from_event.annotations["triggered_rule"] == "Checkout errors"
    assert from_event.severity is Severity.CRITICAL  # fatal
    assert from_event.service == "checkout"  # slug read from the event's API URL
    assert from_event.labels["environment"] == "production"
    assert from_event.source_url == event_payload()["web_url"]
    assert from_event.starts_at == datetime(2024, 3, 2, 10, 5, tzinfo=UTC)


def test_event_alert_rule_title_comes_from_issue_alert() -> None:
    payload = {
        "action": "triggered",
        "data": {"event": event_payload(), "issue_alert": {"title": "Rule X"}},
    }
    assert parse("event_alert", payload).alerts[0].annotations["triggered_rule"] == "Rule X"


def test_error_without_issue_falls_back_to_its_event_id() -> None:
    error = event_payload(issue_id=None)
    (alert,) = parse("error", {"action": "created", "data": {"error": error}}).alerts
    assert alert.fingerprint == fingerprint_of("sentry", {"issue_id": error["event_id"]})


def test_event_project_resolution() -> None:
    mapped = SourceOptions(services={"17": "payments", "checkout": "shop"})
    no_url = event_payload(url=None)
    alert = parse("error", {"action": "created", "data": {"error": no_url}}, mapped).alerts[0]
    assert alert.service == "payments"  # only a numeric id: used when the config maps it
    alert = parse("error", {"action": "created", "data": {"error": no_url}}).alerts[0]
    assert alert.service == UNKNOWN_SERVICE and alert.labels["project"] == "17"
    alert = parse(
        "error", {"action": "created", "data": {"error": event_payload(project="web")}}
    ).alerts[0]
    assert alert.service == "web"  # `project` holding a slug
    alert = parse(
        "error", {"action": "created", "data": {"error": event_payload()}}, mapped
    ).alerts[0]
    assert alert.service == "shop" and alert.labels["service"] == "shop"


@pytest.mark.parametrize(
    ("level", "severity"),
    [
        ("fatal", Severity.CRITICAL),
        ("error", Severity.ERROR),
        ("warning", Severity.WARNING),
        ("info", Severity.INFO),
        ("debug", Severity.INFO),
        ("sample", Severity.ERROR),
    ],
)
def test_levels(level: str, severity: Severity) -> None:
    assert parse("issue", issue_payload("created", level=level)).alerts[0].severity is severity
