"""The open alerts a silence's matchers match (preview and "mutes now"), on SQLite and
PostgreSQL: the database's narrowing never drops an alert the matchers match, the routing
labels (severity/source filled from the columns) decide, and the bounds are honest."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from routing.muting import silence_store
from routing.muting.matcher import parse_matchers
from routing.muting.silence import Silence
from routing.muting.silence_matches import ALERT, muted_counts, open_alerts_matching
from routing.storage.database import make_engine

NOW = datetime(2026, 3, 2, 10, tzinfo=UTC)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def row(n: int, service: str, labels: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {
        "fingerprint": f"fp{n}",
        "source": extra.pop("source", "alertmanager"),
        "status": extra.pop("status", "firing"),
        "severity": extra.pop("severity", "critical"),
        "service": service,
        "title": f"alert {n}",
        "labels": labels,
        "annotations": {},
        "fingerprint_fields": {},
        "first_seen": NOW,
        "last_seen": NOW + timedelta(seconds=n),
        **extra,
    }


def seed(engine: Engine) -> None:
    rows = [
        row(1, "api", {"alertname": "Down", "env": "prod"}),
        row(2, "api", {"alertname": "Slow", "env": "staging"}, severity="warning"),
        row(3, "db", {"alertname": "Down", "env": "prod", "severity": "page"}),
        # No severity label: the column fills in, as triage does.
        row(4, "db", {"alertname": "Disk"}, severity="info", source="sentry"),
        row(5, "api", {"alertname": "Down", "env": "prod"}, status="resolved"),
        row(6, "web", {"alertname": "Down", "env": ""}, status="pending"),
    ]
    with engine.begin() as conn:
        conn.execute(insert(ALERT), rows)


def titles(engine: Engine, text: str, **kw: Any) -> list[str]:
    with engine.connect() as conn:
        found = open_alerts_matching(conn, parse_matchers(text), **kw)
    return [a.title for a in found.alerts]


def test_matchers_decide_on_routing_labels(engine: Engine) -> None:
    seed(engine)
    assert titles(engine, 'service="api"') == ["alert 2", "alert 1"]  # open only, newest first
    assert titles(engine, "service!=api") == ["alert 6", "alert 4", "alert 3"]
    assert titles(engine, 'alertname="Down", env="prod"') == ["alert 3", "alert 1"]
    # severity: the alert's own label wins over the column, else the column fills in.
    assert titles(engine, "severity=page") == ["alert 3"]
    assert titles(engine, "severity=critical") == ["alert 6", "alert 1"]
    assert titles(engine, "severity=info") == ["alert 4"]
    assert titles(engine, "source=sentry") == ["alert 4"]
    # `=""` matches a missing or empty label; regexes are anchored.
    assert titles(engine, 'alertname="Down", env=""') == ["alert 6"]
    assert titles(engine, "alertname=~D.*") == ["alert 6", "alert 4", "alert 3", "alert 1"]
    assert titles(engine, "alertname=~Dis") == []
    assert titles(engine, "alertname!~Down") == ["alert 4", "alert 2"]
    assert titles(engine, "nosuchlabel=x") == []


def test_limit_and_scan_bounds_are_honest(engine: Engine) -> None:
    seed(engine)
    with engine.connect() as conn:
        capped = open_alerts_matching(conn, parse_matchers("alertname=~.+"), limit=2)
        assert ([a.title for a in capped.alerts], capped.total, capped.more, capped.exact) == (
            ["alert 6", "alert 4"], 5, 3, True,
        )  # fmt: skip
        # Past the scan bound the count is a lower bound, said so.
        scanned = open_alerts_matching(conn, parse_matchers("alertname=~.+"), limit=1, scan=3)
        assert (scanned.total, scanned.exact) == (3, False)


def test_muted_counts_only_for_silences_in_force(engine: Engine) -> None:
    seed(engine)
    active = Silence(
        id="a", matchers=["service=api"], starts_at=NOW - timedelta(hours=1),
        ends_at=NOW + timedelta(hours=1),
    )  # fmt: skip
    later = Silence(
        id="b", matchers=["service=db"], starts_at=NOW + timedelta(hours=1),
        ends_at=NOW + timedelta(hours=2),
    )  # fmt: skip
    with engine.connect() as conn:
        counts = muted_counts(conn, [active, later], NOW)
    assert {k: v.total for k, v in counts.items()} == {"a": 2}


def test_list_ended_has_the_last_day_latest_first(engine: Engine) -> None:
    def make(ident: str, start_h: int, end_h: int) -> Silence:
        return Silence(
            id=ident, matchers=["service=api"], starts_at=NOW + timedelta(hours=start_h),
            ends_at=NOW + timedelta(hours=end_h), created_by="alice",
        )  # fmt: skip

    config = [make("cfg-old", -60, -50), make("cfg-recent", -5, -3)]
    with engine.begin() as conn:
        for silence in (make("ran-out", -4, -2), make("long-ago", -72, -48), make("on", -1, 5)):
            silence_store.create(conn, silence, NOW - timedelta(hours=5))
        silence_store.create(conn, make("ended-early", -1, 5), NOW - timedelta(hours=1))
        silence_store.expire(conn, "ended-early", "bob", NOW - timedelta(minutes=10))
        ended = silence_store.list_ended(conn, NOW, NOW - timedelta(days=1), config)
    assert [(v.id, v.origin, v.expired_by) for v in ended] == [
        ("ended-early", "api", "bob"),
        ("ran-out", "api", None),
        ("cfg-recent", "config", None),
    ]
