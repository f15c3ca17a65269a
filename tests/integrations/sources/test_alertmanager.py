"""Alertmanager webhook parsing: v4 and v3 bodies, mapping, errors, label-order stability."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from integrations.sources import SOURCES, PayloadError, SourceOptions
from integrations.sources.alertmanager import alertmanager, severity_of
from routing.basics.storable import storable_text
from routing.intake.alert import UNKNOWN_SERVICE, AlertStatus, Severity
from routing.intake.fingerprint import fingerprint_of
from tests.support.sources import label_orderings, payload_error

NO_OPTIONS = SourceOptions()


def v4_body(**overrides: Any) -> dict[str, Any]:
    """A version 4 body with every documented field (written from FORMATS.md §1)."""
    body: dict[str, Any] = {
        "version": "4",
        "groupKey": '{}/{team="db"}:{alertname="PostgresDown"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "firebell",
        "groupLabels": {"alertname": "PostgresDown"},
        "commonLabels": {"alertname": "PostgresDown", "team": "db"},
        "commonAnnotations": {"runbook": "https://wiki/pg"},
        "externalURL": "http://am.internal:9093",
        "notification_reason": "new",  # newer AMs add keys; they must be ignored
        "routeLabels": {"team": "db"},
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": "PostgresDown",
                    "instance": "db1:9187",
                    "job": "postgres-exporter",
                    "service": "orders-db",
                    "severity": "page",
                    "team": "db",
                },
                "annotations": {
                    "summary": "Postgres on db1 is down",
                    "description": "pg_up == 0 for 2m",
                },
                "startsAt": "2024-05-01T10:00:00.123456789+02:00",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prom:9090/graph?g0.expr=pg_up+%3D%3D+0",
                "fingerprint": "a1b2c3d4e5f60718",
            },
            {
                "status": "resolved",
                "labels": {"alertname": "DiskFull", "job": "node", "severity": "info"},
                "annotations": {"message": "disk back under 80%"},
                "startsAt": "2024-05-01T09:00:00Z",
                "endsAt": "2024-05-01T09:30:00Z",
                "generatorURL": "",
                "fingerprint": "0f0f0f0f0f0f0f0f",
            },
        ],
    }
    body.update(overrides)
    return body


def parse(body: Any, options: SourceOptions = NO_OPTIONS) -> Any:
    return alertmanager.parse(orjson.dumps(body), {}, options)


def error_of(body: bytes | Any) -> PayloadError:
    return payload_error(alertmanager, body if isinstance(body, bytes) else orjson.dumps(body))


def test_registered_under_its_name() -> None:
    assert SOURCES["alertmanager"] is alertmanager
    assert alertmanager.name == "alertmanager"


def test_v4_alert_maps_every_field() -> None:
    result = parse(v4_body())
    assert result.note is None and result.unparsed == 0
    first, second = result.alerts
    labels = v4_body()["alerts"][0]["labels"]
    assert first.source == "alertmanager"
    assert first.status is AlertStatus.FIRING
    assert first.severity is Severity.CRITICAL  # "page"
    assert first.service == "orders-db"
    assert first.title == "Postgres on db1 is down"
    assert first.description == "pg_up == 0 for 2m"
    assert first.labels == {**labels, "service": "orders-db"}
    assert first.labels["alertname"] == "PostgresDown"
    assert first.annotations == {
        "summary": "Postgres on db1 is down",
        "description": "pg_up == 0 for 2m",
        "alertmanager_fingerprint": "a1b2c3d4e5f60718",
    }
    assert first.source_url == "http://prom:9090/graph?g0.expr=pg_up+%3D%3D+0"
    assert first.starts_at == datetime(2024, 5, 1, 8, 0, 0, 123456, tzinfo=UTC)
    assert first.starts_at is not None and first.starts_at.tzinfo is UTC
    assert first.ends_at is None  # Go's zero time means unset
    assert first.fingerprint_fields == labels
    assert first.fingerprint == fingerprint_of("alertmanager", labels)

    assert second.status is AlertStatus.RESOLVED
    assert second.severity is Severity.INFO
    assert second.service == "node"  # no service label: the job
    assert second.title == "DiskFull"  # no summary: the alertname
    assert second.description == "disk back under 80%"
    assert second.source_url is None
    assert second.ends_at == datetime(2024, 5, 1, 9, 30, tzinfo=UTC)


def test_v3_body_with_integer_group_key_and_no_fingerprint() -> None:
    body = {
        "version": "3",
        "groupKey": 5615590933959184469,  # v3 sends an integer beyond 2**53
        "status": "firing",
        "receiver": "pager",
        "groupLabels": {"alertname": "PingFailed"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://am:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": {"__name__": "probe_success", "alertname": "PingFailed"},
                "annotations": {},
                "startsAt": "2016-08-01T13:27:08.008+03:00",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prom/graph",
            }
        ],
    }
    (alert,) = parse(body).alerts
    assert alert.service == UNKNOWN_SERVICE
    assert alert.labels["service"] == UNKNOWN_SERVICE
    assert "alertmanager_fingerprint" not in alert.annotations
    assert alert.fingerprint_fields == {"__name__": "probe_success", "alertname": "PingFailed"}
    assert alert.starts_at == datetime(2016, 8, 1, 10, 27, 8, 8000, tzinfo=UTC)


def test_alert_without_status_takes_the_group_status() -> None:
    body = v4_body(status="resolved")
    del body["alerts"][0]["status"]
    assert parse(body).alerts[0].status is AlertStatus.RESOLVED


def test_truncated_alerts_produce_a_note() -> None:
    note = parse(v4_body(truncatedAlerts=3)).note
    assert note is not None
    assert note.startswith("3 alerts truncated by Alertmanager")
    assert "firebell" in note and "http://am.internal:9093" in note


def test_services_mapping_applies_to_service_and_job() -> None:
    options = SourceOptions(services={"orders-db": "orders", "node": "platform"})
    first, second = parse(v4_body(), options).alerts
    assert (first.service, first.labels["service"]) == ("orders", "orders")
    assert (second.service, second.labels["service"]) == ("platform", "platform")
    # The identity is the labels as sent, so remapping services keeps fingerprints.
    assert first.fingerprint == parse(v4_body()).alerts[0].fingerprint


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("critical", Severity.CRITICAL),
        ("page", Severity.CRITICAL),
        ("P1", Severity.CRITICAL),
        ("error", Severity.ERROR),
        ("high", Severity.ERROR),
        ("major", Severity.ERROR),
        ("warning", Severity.WARNING),
        ("Warning", Severity.WARNING),
        ("warn", Severity.WARNING),
        ("medium", Severity.WARNING),
        ("info", Severity.INFO),
        ("low", Severity.INFO),
        ("none", Severity.INFO),
        ("banana", Severity.WARNING),
        (None, Severity.WARNING),
    ],
)
def test_severity_words(word: str | None, expected: Severity) -> None:
    assert severity_of(word) is expected


def test_empty_alert_list_is_fine() -> None:
    assert parse(v4_body(alerts=[])).alerts == []


def reversed_keys(value: Any) -> Any:
    """The same JSON value with every object's keys in reverse order."""
    if isinstance(value, dict):
        return {key: reversed_keys(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [reversed_keys(item) for item in value]
    return value


def test_key_order_in_the_body_never_matters() -> None:
    body = v4_body()
    reordered = json.dumps(reversed_keys(body)).encode()
    again = alertmanager.parse(reordered, {}, NO_OPTIONS).alerts
    assert [a.fingerprint for a in again] == [a.fingerprint for a in parse(body).alerts]
    assert list(again[0].labels) != list(parse(body).alerts[0].labels)  # order did differ


@pytest.mark.parametrize(
    ("raw", "field", "status"),
    [
        (b"{not json", "body", 400),
        (b"\xff\xfe", "body", 400),
        (b"", "body", 400),
        (b"[1, 2]", "body", 422),
        (b"{}", "alerts", 422),
        (b'{"alerts": {}}', "alerts", 422),
        (b'{"alerts": [{"status": "firing", "labels": {}}, 7]}', "alerts[1]", 422),
        (b'{"alerts": [{"status": "firing"}]}', "alerts[0].labels", 422),
        (b'{"alerts": [{"status": "firing", "labels": []}]}', "alerts[0].labels", 422),
        (b'{"alerts": [{"status": "firing", "labels": {"a": 1}}]}', "alerts[0].labels.a", 422),
        (
            b'{"alerts": [{"status": "firing", "labels": {}, "annotations": {"s": null}}]}',
            "alerts[0].annotations.s",
            422,
        ),
        (b'{"alerts": [{"status": "pending", "labels": {}}]}', "alerts[0].status", 422),
        (b'{"alerts": [{"labels": {}}]}', "alerts[0].status", 422),
        (
            b'{"alerts": [{"status": "firing", "labels": {}, "startsAt": "yesterday"}]}',
            "alerts[0].startsAt",
            422,
        ),
        (b'{"alerts": [{"status": "firing", "labels": {}, "endsAt": 5}]}', "alerts[0].endsAt", 422),
        (
            b'{"alerts": [{"status": "firing", "labels": {}, "fingerprint": 5}]}',
            "alerts[0].fingerprint",
            422,
        ),
        (b'{"alerts": [], "truncatedAlerts": "3"}', "truncatedAlerts", 422),
    ],
)
def test_bad_bodies_name_the_field(raw: bytes, field: str, status: int) -> None:
    error = error_of(raw)
    assert (error.field, error.status_code) == (field, status)


label_names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,15}", fullmatch=True)
label_sets = st.dictionaries(label_names, st.text(max_size=20), min_size=1, max_size=12)


@given(orderings=label_orderings(label_sets))
def test_label_order_never_changes_the_fingerprint(
    orderings: tuple[dict[str, str], dict[str, str]],
) -> None:
    labels, reordered = orderings
    first = parse({"alerts": [{"status": "firing", "labels": labels}]}).alerts[0]
    second = parse({"alerts": [{"status": "firing", "labels": reordered}]}).alerts[0]
    # Computed from the labels as stored (NUL becomes U+FFFD at the edge).
    stored = {key: storable_text(value) for key, value in labels.items()}
    assert first.fingerprint == second.fingerprint == fingerprint_of("alertmanager", stored)


@given(labels=label_sets, extra=label_names, value=st.text(max_size=5))
def test_any_label_change_changes_the_fingerprint(
    labels: dict[str, str], extra: str, value: str
) -> None:
    changed = {**labels, extra: value + "!"}
    first = parse({"alerts": [{"status": "firing", "labels": labels}]}).alerts[0]
    second = parse({"alerts": [{"status": "firing", "labels": changed}]}).alerts[0]
    assert first.fingerprint != second.fingerprint
