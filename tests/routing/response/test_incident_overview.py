"""The incident overview query on SQLite and PostgreSQL: filters, ordering, counts,
the next escalation time and "mine"."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from routing.response.incident_overview import (
    ESCALATION,
    INCIDENT,
    NOTIFICATION,
    InvalidFilter,
    OverviewFilter,
    OverviewItem,
    age_seconds,
    load_overview,
    parse_filter,
)
from routing.storage.database import make_engine

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
RANK = {"info": 0, "warning": 1, "error": 2, "critical": 3}


def _incident(conn: Any, n: int, **kw: Any) -> int:
    created = T0 + timedelta(minutes=n)
    values: dict[str, Any] = {
        "title": f"incident {n}",
        "status": "triggered",
        "severity": "warning",
        "service": "api",
        "group_key": f"g{n}",
        "created_at": created,
        "updated_at": created,
        "alert_count": n,
        "open_alert_count": n,
        "group_labels": {},
    } | kw
    values["severity_rank"] = RANK[values["severity"]]
    return int(conn.execute(insert(INCIDENT).values(**values)).inserted_primary_key[0])


def _escalation(conn: Any, incident_id: int, policy: str, due: datetime, **kw: Any) -> int:
    values = {
        "incident_id": incident_id,
        "policy": policy,
        "started_at": T0,
        "due_at": due,
        "updated_at": T0,
    } | kw
    return int(conn.execute(insert(ESCALATION).values(**values)).inserted_primary_key[0])


def _page(conn: Any, incident_id: int, recipient: str, status: str = "sent") -> None:
    conn.execute(
        insert(NOTIFICATION).values(
            incident_id=incident_id,
            dedup_key=f"{incident_id}-{recipient}-{status}",
            kind="page",
            address="mailto://secret@example.invalid",
            recipient=recipient,
            status=status,
            created_at=T0,
            first_due_at=T0,
            next_attempt_at=T0,
        )
    )


@pytest.fixture
def engine(database_url: str) -> Any:
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


def _ids(engine: Engine, flt: OverviewFilter, viewer: str | None = "carol") -> list[int]:
    with engine.connect() as conn:
        return [i.id for i in load_overview(conn, flt, viewer).items]


def test_open_first_then_severity_then_newest(engine: Engine) -> None:
    with engine.begin() as conn:
        old_warn = _incident(conn, 1, severity="warning")
        crit = _incident(conn, 2, severity="critical")
        new_warn = _incident(
            conn,
            3,
            severity="warning",
            status="acknowledged",
            acknowledged_by="dave",
            acknowledged_at=T0,
        )
        closed_crit = _incident(
            conn, 4, severity="critical", status="resolved", resolved_at=T0 + timedelta(hours=1)
        )
        info = _incident(conn, 5, severity="info")
    assert _ids(engine, OverviewFilter()) == [crit, new_warn, old_warn, info]
    assert _ids(engine, OverviewFilter(status="all")) == [
        crit,
        new_warn,
        old_warn,
        info,
        closed_crit,
    ]
    assert _ids(engine, OverviewFilter(status="resolved")) == [closed_crit]
    assert _ids(engine, OverviewFilter(status="acknowledged")) == [new_warn]
    assert _ids(engine, OverviewFilter(status="triggered")) == [crit, old_warn, info]


def test_filters_counts_and_limit(engine: Engine) -> None:
    with engine.begin() as conn:
        for n in range(1, 8):
            _incident(
                conn, n, service="api" if n % 2 else "db", severity="critical" if n < 3 else "info"
            )
        _incident(conn, 9, status="resolved", service="api")
    with engine.connect() as conn:
        page = load_overview(conn, OverviewFilter(service="api", limit=2), "carol")
        assert [i.service for i in page.items] == ["api", "api"]
        assert (page.total, page.open_total) == (4, 7)
        crit = load_overview(conn, OverviewFilter(severity="critical"), "carol")
        assert crit.total == 2 and {i.severity for i in crit.items} == {"critical"}
        every = load_overview(conn, OverviewFilter(status="all"), None)
        assert (every.total, every.open_total) == (8, 7)
        item = crit.items[0]
        assert item.alert_count == 2 and item.title == "incident 2"


def test_next_escalation_is_the_earliest_active_unpaused_step(engine: Engine) -> None:
    with engine.begin() as conn:
        a = _incident(conn, 1)
        _escalation(conn, a, "p1", T0 + timedelta(minutes=30))
        _escalation(conn, a, "p2", T0 + timedelta(minutes=10))
        _escalation(conn, a, "p3", T0 + timedelta(minutes=1), state="stopped")
        _escalation(conn, a, "p4", T0 + timedelta(minutes=2), paused_at=T0)
        b = _incident(conn, 2)
        _escalation(conn, b, "p1", T0, state="done")
    with engine.connect() as conn:
        items = {i.id: i for i in load_overview(conn, OverviewFilter(), None).items}
    assert items[a].next_escalation_at == T0 + timedelta(minutes=10)
    assert items[b].next_escalation_at is None


def test_mine_is_acked_by_or_paged_and_not_cancelled(engine: Engine) -> None:
    with engine.begin() as conn:
        acked = _incident(
            conn, 1, status="acknowledged", acknowledged_by="carol", acknowledged_at=T0
        )
        paged = _incident(conn, 2)
        _page(conn, paged, "carol")
        cancelled = _incident(conn, 3)
        _page(conn, cancelled, "carol", status="cancelled")
        other = _incident(conn, 4)
        _page(conn, other, "dave")
        _page(conn, other, "dave", status="pending")  # two rows must not duplicate it
    assert sorted(_ids(engine, OverviewFilter(mine=True))) == [acked, paged]
    assert _ids(engine, OverviewFilter(mine=True), viewer="dave") == [other]
    assert _ids(engine, OverviewFilter(mine=True), viewer=None) == []
    assert len(_ids(engine, OverviewFilter())) == 4


def test_parse_filter_names_the_bad_field() -> None:
    assert parse_filter() == OverviewFilter()
    assert parse_filter("all", "api", "critical", "1", "5") == OverviewFilter(
        "all", "api", "critical", True, 5
    )
    assert parse_filter("", "", "", "", "") == OverviewFilter()
    for kwargs, field in (
        ({"status": "closed"}, "status"),
        ({"severity": "huge"}, "severity"),
        ({"mine": "yes"}, "mine"),
        ({"limit": "0"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "99999"}, "limit"),
        ({"service": "x" * 201}, "service"),
    ):
        with pytest.raises(InvalidFilter) as caught:
            parse_filter(**kwargs)
        assert caught.value.field == field


def test_age_stops_at_resolution() -> None:
    item = OverviewItem(1, "t", "triggered", "info", "api", 1, 1, T0, None, None, None, None)
    assert age_seconds(item, T0 + timedelta(minutes=5)) == 300
    done = replace(item, status="resolved", resolved_at=T0 + timedelta(minutes=2))
    assert age_seconds(done, T0 + timedelta(hours=5)) == 120
