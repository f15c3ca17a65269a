"""The generic JSON webhook: shapes, defaults, identity and field-naming errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from integrations.sources import SOURCES, SourceOptions
from integrations.sources.generic import generic
from routing.intake.alert import UNKNOWN_SERVICE, AlertStatus, Severity
from routing.intake.fingerprint import fingerprint_of
from tests.support.sources import label_orderings, payload_error

NO_OPTIONS = SourceOptions()
FULL = {
    "title": "Backup failed",
    "severity": "Critical",
    "status": "firing",
    "service": "billing-db",
    "labels": {"host": "db1", "job": "backup"},
    "annotations": {"runbook": "https://wiki/backup"},
    "description": "pg_dump exited 1",
    "source_url": "https://ci.example/jobs/9",
    "starts_at": "2024-06-01T02:00:00+02:00",
    "ends_at": "2024-06-01T03:00:00",
    "unknown_key": {"ignored": True},
}


def parse(body: Any, options: SourceOptions = NO_OPTIONS) -> Any:
    return generic.parse(orjson.dumps(body), {}, options)


def test_registered_under_its_name() -> None:
    assert SOURCES["generic"] is generic


def test_every_field() -> None:
    (alert,) = parse(FULL, SourceOptions(services={"billing-db": "billing"})).alerts
    assert alert.source == "generic"
    assert alert.title == "Backup failed"
    assert alert.severity is Severity.CRITICAL
    assert alert.status is AlertStatus.FIRING
    assert alert.service == "billing"
    assert alert.labels == {"host": "db1", "job": "backup", "service": "billing"}
    assert alert.annotations == {"runbook": "https://wiki/backup"}
    assert alert.description == "pg_dump exited 1"
    assert alert.source_url == "https://ci.example/jobs/9"
    assert alert.starts_at == datetime(2024, 6, 1, 0, 0, tzinfo=UTC)
    assert alert.ends_at == datetime(2024, 6, 1, 3, 0, tzinfo=UTC)  # no offset: UTC
    assert alert.fingerprint_fields == {
        "title": "Backup failed",
        "service": "billing-db",
        "label.host": "db1",
        "label.job": "backup",
    }
    assert alert.fingerprint == fingerprint_of("generic", alert.fingerprint_fields)


def test_defaults() -> None:
    (alert,) = parse({"title": "Something"}).alerts
    assert alert.severity is Severity.WARNING
    assert alert.status is AlertStatus.FIRING
    assert alert.service == UNKNOWN_SERVICE and alert.labels == {"service": UNKNOWN_SERVICE}
    assert (alert.description, alert.source_url, alert.starts_at) == ("", None, None)


def test_service_from_labels() -> None:
    (alert,) = parse({"title": "x", "labels": {"service": "api"}}).alerts
    assert alert.service == "api"


def test_own_fingerprint_is_the_identity() -> None:
    first = parse({"title": "a", "fingerprint": "job-9"}).alerts[0]
    second = parse({"title": "b", "fingerprint": "job-9", "status": "resolved"}).alerts[0]
    assert (
        first.fingerprint
        == second.fingerprint
        == fingerprint_of("generic", {"fingerprint": "job-9"})
    )
    assert second.status is AlertStatus.RESOLVED


def test_resolving_by_resending_the_same_alert() -> None:
    firing = parse(FULL).alerts[0]
    resolved = parse({**FULL, "status": "resolved", "description": "ok now"}).alerts[0]
    assert firing.fingerprint == resolved.fingerprint


def test_list_and_alerts_wrapper() -> None:
    many = [{"title": "a"}, {"title": "b", "severity": "info"}]
    assert [a.title for a in parse(many).alerts] == ["a", "b"]
    assert [a.title for a in parse({"alerts": many}).alerts] == ["a", "b"]
    assert parse([]).alerts == []


@given(
    orderings=label_orderings(
        st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=8), max_size=8)
    )
)
def test_label_order_never_changes_the_fingerprint(
    orderings: tuple[dict[str, str], dict[str, str]],
) -> None:
    labels, reordered = orderings
    first = parse({"title": "t", "labels": labels}).alerts[0]
    second = parse({"title": "t", "labels": reordered}).alerts[0]
    assert first.fingerprint == second.fingerprint


def test_label_named_title_cannot_collide_with_the_title() -> None:
    first = parse({"title": "a", "labels": {"title": "b"}}).alerts[0]
    second = parse({"title": "b", "labels": {"title": "a"}}).alerts[0]
    assert first.fingerprint != second.fingerprint


@pytest.mark.parametrize(
    ("raw", "field", "status"),
    [
        (b"nope", "body", 400),
        (b"3", "body", 422),
        (b"{}", "title", 422),
        (b'{"title": "  "}', "title", 422),
        (b'{"title": 7}', "title", 422),
        (b'{"title": "x", "severity": "fatal"}', "severity", 422),
        (b'{"title": "x", "status": "ok"}', "status", 422),
        (b'{"title": "x", "labels": {"a": 1}}', "labels.a", 422),
        (b'{"title": "x", "annotations": []}', "annotations", 422),
        (b'{"title": "x", "starts_at": "soon"}', "starts_at", 422),
        (b'{"title": "x", "starts_at": 1700000000}', "starts_at", 422),
        (b'{"title": "x", "fingerprint": 5}', "fingerprint", 422),
        (b'{"alerts": {}}', "alerts", 422),
        (
            b'{"alerts": [{"title": "x"}, {"title": "y", "severity": "p0"}]}',
            "alerts[1].severity",
            422,
        ),
        (b'[{"title": "x"}, 5]', "[1]", 422),
    ],
)
def test_errors_name_the_field(raw: bytes, field: str, status: int) -> None:
    error = payload_error(generic, raw)
    assert (error.field, error.status_code) == (field, status)
