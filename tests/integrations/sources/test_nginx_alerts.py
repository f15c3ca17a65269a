"""Nginx alerts: levels, fields, service lookup, and long titles."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from integrations.sources import SOURCES, SourceOptions
from integrations.sources.nginx import nginx
from routing.intake.alert import UNKNOWN_SERVICE, AlertStatus, Severity
from tests.integrations.sources.nginx_support import REFUSED, line, parse


def test_registered_under_its_name() -> None:
    assert SOURCES["nginx"] is nginx


@pytest.mark.parametrize(
    ("level", "severity"),
    [
        ("emerg", Severity.CRITICAL),
        ("alert", Severity.CRITICAL),
        ("crit", Severity.CRITICAL),
        ("error", Severity.ERROR),
        ("warn", Severity.WARNING),
        ("notice", Severity.INFO),
        ("info", Severity.INFO),
        ("debug", Severity.INFO),
    ],
)
def test_levels(level: str, severity: Severity) -> None:
    (alert,) = parse(REFUSED.replace("[error]", f"[{level}]").encode()).alerts
    assert alert.severity is severity
    assert alert.labels["level"] == level


def test_alert_fields() -> None:
    options = SourceOptions(services={"shop.example.org": "shop"})
    (alert,) = parse(REFUSED.encode(), options).alerts
    assert alert.source == "nginx"
    assert alert.status is AlertStatus.FIRING
    assert alert.service == "shop"
    assert alert.title == "connect() failed (111: Connection refused) while connecting to upstream"
    assert alert.description == REFUSED
    assert alert.labels == {
        "service": "shop",
        "level": "error",
        "server": "shop.example.org",
        "upstream_host": "10.20.0.5",
    }
    assert "alertname" not in alert.labels
    assert alert.annotations["client"] == "198.51.100.7"
    assert alert.annotations["request"] == "POST /cart/checkout?id=77 HTTP/2.0"
    assert alert.starts_at == datetime(2024, 2, 29, 23, 59, 58, tzinfo=UTC)
    assert alert.fingerprint_fields == {
        "template": alert.title,
        "server": "shop.example.org",
        "upstream_host": "10.20.0.5",
    }


def test_service_lookup_order() -> None:
    text = line(server="shop.example.org", upstream="10.20.0.5").encode()
    by_all = SourceOptions(services={"shop.example.org": "a", "10.20.0.5": "b"})
    by_upstream = SourceOptions(services={"10.20.0.5": "b", "shop.example.org:443": "c"})
    assert parse(text, by_all).alerts[0].service == "a"
    assert parse(text, by_upstream).alerts[0].service == "b"
    host_only = (
        b"2024/03/01 12:00:00 [error] 1#1: *1 access forbidden by rule, client: 192.0.2.1,"
        b' server: _, request: "GET / HTTP/1.1", host: "files.example:8443"'
    )
    assert (
        parse(host_only, SourceOptions(services={"files.example": "files"})).alerts[0].service
        == "files"
    )
    assert parse(host_only, SourceOptions(services={"_": "x"})).alerts[0].service == UNKNOWN_SERVICE
    assert parse(text).alerts[0].service == UNKNOWN_SERVICE


def test_long_titles_are_shortened() -> None:
    text = "2024/03/01 12:00:00 [error] 1#1: " + "word " * 100
    (alert,) = parse(text.encode()).alerts
    assert len(alert.title) <= 200 and alert.title.endswith("…")
