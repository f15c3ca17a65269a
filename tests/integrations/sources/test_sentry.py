"""Sentry webhooks: resources and actions, shared issue identity, legacy plugin, signatures."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from integrations.sources import SOURCES, PayloadError, SourceOptions
from integrations.sources.sentry import sentry, sentry_legacy, verify_sentry_signature
from routing.intake.alert import UNKNOWN_SERVICE, AlertStatus, Severity
from routing.intake.fingerprint import fingerprint_of
from tests.support.sources import payload_error

NO_OPTIONS = SourceOptions()
ISSUE_ID = "4242"
ISSUE_FP = fingerprint_of("sentry", {"issue_id": ISSUE_ID})


def compact(payload: Any) -> bytes:
    """What Sentry sends: compact separators (FORMATS.md §2)."""
    return orjson.dumps(payload)


def issue_payload(action: str, **issue: Any) -> dict[str, Any]:
    body = {
        "id": ISSUE_ID,
        "shortId": "CHECKOUT-7",
        "title": "KeyError: 'cart'",
        "culprit": "checkout.views in pay",
        "level": "error",
        "status": "unresolved",
        "firstSeen": "2024-03-02T10:00:00.500000Z",
        "project": {"id": "17", "name": "Checkout", "slug": "checkout"},
        "metadata": {"type": "KeyError", "value": "'cart'"},
        "assignedTo": None,
    }
    body.update(issue)
    return {
        "action": action,
        "installation": {"uuid": "00000000-0000-4000-8000-000000000000"},
        "data": {"issue": body},
        "actor": {"type": "application", "id": "sentry", "name": "Sentry"},
    }


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


def parse(resource: str, payload: Any, options: SourceOptions = NO_OPTIONS) -> Any:
    return sentry.parse(compact(payload), {"sentry-hook-resource": resource}, options)


def error_of(resource: str | None, raw: bytes) -> PayloadError:
    headers = {} if resource is None else {"sentry-hook-resource": resource}
    return payload_error(sentry, raw, headers)


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


@pytest.mark.parametrize("resource", ["installation", "comment", "seer", "brand_new_thing"])
def test_inert_resources_are_recorded(resource: str) -> None:
    result = parse(resource, {"action": "created", "data": {}})
    assert result.alerts == []
    assert result.note == f"recorded sentry {resource}.created"


def test_inert_resource_with_an_empty_body() -> None:
    result = sentry.parse(b"", {"sentry-hook-resource": "installation"}, NO_OPTIONS)
    assert result.alerts == [] and result.note == "recorded sentry installation"


def test_header_names_are_case_insensitive() -> None:
    body = compact(issue_payload("created"))
    for headers in ({"Sentry-Hook-Resource": "issue"}, {"SENTRY-HOOK-RESOURCE": " Issue "}):
        assert sentry.parse(body, headers, NO_OPTIONS).alerts[0].fingerprint == ISSUE_FP


def test_missing_resource_header_is_a_400() -> None:
    error = error_of(None, compact(issue_payload("created")))
    assert (error.field, error.status_code) == ("Sentry-Hook-Resource", 400)


@pytest.mark.parametrize(
    ("resource", "raw", "field", "status"),
    [
        ("issue", b"{oops", "body", 400),
        ("issue", b"[]", "body", 422),
        ("issue", b'{"data": {}}', "action", 422),
        ("issue", b'{"action": "created"}', "data", 422),
        ("issue", b'{"action": "created", "data": []}', "data", 422),
        ("issue", b'{"action": "created", "data": {}}', "data.issue", 422),
        ("issue", b'{"action": "created", "data": {"issue": {}}}', "data.issue.id", 422),
        ("issue", b'{"action": "created", "data": {"issue": {"id": 1.5}}}', "data.issue.id", 422),
        (
            "issue",
            b'{"action":"created","data":{"issue":{"id":1,"firstSeen":"x"}}}',
            "data.issue.firstSeen",
            422,
        ),
        (
            "event_alert",
            b'{"action": "triggered", "data": {"event": {}}}',
            "data.event.issue_id",
            422,
        ),
        ("error", b'{"action": "created", "data": {"error": {}}}', "data.error.issue_id", 422),
        (
            "metric_alert",
            b'{"action": "critical", "data": {"metric_alert": {}}}',
            "data.metric_alert.id",
            422,
        ),
        ("installation", b"{oops", "body", 400),
    ],
)
def test_bad_bodies_name_the_field(resource: str, raw: bytes, field: str, status: int) -> None:
    error = error_of(resource, raw)
    assert (error.field, error.status_code) == (field, status)


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


SECRET = "f00dbabe" * 8


def sign(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_signature_over_the_raw_bytes() -> None:
    body = compact(issue_payload("created"))
    assert verify_sentry_signature(body, {"sentry-hook-signature": sign(body)}, SECRET)
    assert verify_sentry_signature(body, {"Sentry-App-Signature": sign(body)}, SECRET)
    assert verify_sentry_signature(body, {"sentry-hook-signature": sign(body).upper()}, SECRET)
    # Re-serialized (pretty) JSON is a different body: it must not verify.
    pretty = orjson.dumps(orjson.loads(body), option=orjson.OPT_INDENT_2)
    assert not verify_sentry_signature(pretty, {"sentry-hook-signature": sign(body)}, SECRET)


def test_signature_rejections() -> None:
    body = b'{"action":"created"}'
    good = sign(body)
    assert not verify_sentry_signature(body, {}, SECRET)
    assert not verify_sentry_signature(body, {"sentry-hook-signature": good}, "other")
    assert not verify_sentry_signature(body, {"sentry-hook-signature": sign(body, "")}, "")
    assert not verify_sentry_signature(body + b" ", {"sentry-hook-signature": good}, SECRET)
    assert not verify_sentry_signature(body, {"sentry-hook-signature": "ünïcode"}, SECRET)
    assert not verify_sentry_signature(body, {"sentry-hook-signature": good[:-1]}, SECRET)
    # A wrong hook signature with a right app signature still verifies (either header).
    headers = {"sentry-hook-signature": "0" * 64, "sentry-app-signature": good}
    assert verify_sentry_signature(body, headers, SECRET)


@given(
    body=st.binary(max_size=256),
    secret=st.text(min_size=1, max_size=40),
    other=st.binary(max_size=8),
)
def test_signature_property(body: bytes, secret: str, other: bytes) -> None:
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert verify_sentry_signature(body, {"sentry-hook-signature": signature}, secret)
    if other:
        assert not verify_sentry_signature(
            body + other, {"sentry-hook-signature": signature}, secret
        )
