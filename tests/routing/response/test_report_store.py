"""The report read from real databases (SQLite and PostgreSQL), incidents made by the
real ingest path: period bounds, MTTA/MTTR, per-day counts, the noisiest and the most
flapping alerts, and the pages listed for a postmortem (never their address)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert, inspect

from routing.intake.alert import Alert, AlertStatus, Severity
from routing.intake.fingerprint import fingerprint_of
from routing.intake.ingest import ingest
from routing.intake.submission import IngestPolicy, Submission
from routing.paging.outbox import NOTIFICATION
from routing.response import actions
from routing.response.report_store import incident_pages, load_report
from routing.response.reports import Period, summary
from routing.storage.database import make_engine

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
PERIOD = Period(datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 8, tzinfo=UTC))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def am(name: str, status: str = "firing", service: str = "api", sev: str = "critical") -> Alert:
    identity = {"alertname": name, "service": service}
    return Alert(
        "alertmanager",
        fingerprint_of("alertmanager", identity),
        AlertStatus(status),
        Severity(sev),
        service,
        f"{name} | on {service}",
        labels=identity,
        fingerprint_fields=identity,
    )


def send(engine: Engine, at: datetime, *alerts: Alert) -> list[int | None]:
    with engine.begin() as conn:
        outcome = ingest(
            conn, [Submission("alertmanager", list(alerts), body=b"{}")], at, IngestPolicy()
        )
    return [a.incident_id for a in outcome.submissions[0].alerts]


def scenario(engine: Engine) -> dict[str, Any]:
    """Before the period: one incident. In it: acknowledged then resolved by people; one
    resolved by its alert alone (never acknowledged); one still open with 10 firings; one
    whose alert flaps (resolved and fired again 3 times within the reopen window)."""
    send(engine, PERIOD.start - timedelta(hours=1), am("Old"))
    (handled,) = send(engine, T0, am("Errors"))
    assert handled is not None
    with engine.begin() as conn:
        actions.acknowledge(conn, handled, "alice", T0 + timedelta(minutes=4))
    with engine.begin() as conn:
        actions.resolve(conn, handled, "bob", T0 + timedelta(minutes=50))
    send(engine, T0 + timedelta(days=1), am("Disk", service="db", sev="warning"))
    send(engine, T0 + timedelta(days=1, minutes=5), am("Disk", service="db", sev="warning"))
    send(engine, T0 + timedelta(days=1, minutes=20), am("Disk", "resolved", "db", "warning"))
    for n in range(10):
        send(engine, T0 + timedelta(days=2, minutes=n), am("Latency"))
    flap_start = T0 + timedelta(days=3)
    for n in range(7):  # fire, resolve, fire, ... fire: three re-fires
        status = "resolved" if n % 2 else "firing"
        send(engine, flap_start + timedelta(minutes=n), am("Flappy", status, "web", "error"))
    return {"handled": handled}


def test_the_report_from_ingested_incidents(engine: Engine) -> None:
    scenario(engine)
    with engine.connect() as conn:
        report = load_report(conn, PERIOD, T0 + timedelta(days=6), top=3)
    totals = report["totals"]
    assert (totals["opened"], totals["acknowledged"], totals["resolved"], totals["open"]) == (
        4, 1, 2, 2
    )  # fmt: skip
    assert (totals["resolved_without_ack"], totals["auto_resolved"]) == (1, 1)
    # Firing occurrences (a resolve is not one); the alert before the period is not counted.
    assert (totals["alerts"], totals["occurrences"]) == (4, 1 + 2 + 10 + 4)
    assert report["overall"]["mtta"] == summary([240])
    assert report["overall"]["mttr"] == summary([3000, 1200])
    db = next(s for s in report["by_service"] if s["service"] == "db")
    assert (db["mtta"]["count"], db["mttr"]["median_s"]) == (0, 1200.0)
    days = {d["day"]: d["incidents"] for d in report["per_day"]}
    assert days == {
        "2026-12-01": 1, "2026-12-02": 1, "2026-12-03": 1, "2026-12-04": 1,
        "2026-12-05": 0, "2026-12-06": 0, "2026-12-07": 0,
    }  # fmt: skip
    noisy = report["noisiest"]["by_occurrences"]
    assert [(a["title"], a["occurrences"]) for a in noisy] == [
        ("Latency | on api", 10), ("Flappy | on web", 4), ("Disk | on db", 2),
    ]  # fmt: skip
    (flappy,) = report["noisiest"]["by_flaps"]
    assert (flappy["title"], flappy["flaps"], flappy["flagged_flapping"]) == (
        "Flappy | on web", 3, 1
    )  # fmt: skip
    assert (flappy["service"], flappy["severity"], flappy["episodes"]) == ("web", "error", 1)


def test_the_period_bounds_are_half_open(engine: Engine) -> None:
    send(engine, PERIOD.start, am("AtStart"))
    send(engine, PERIOD.end, am("AtEnd"))
    with engine.connect() as conn:
        report = load_report(conn, PERIOD, PERIOD.end)
    assert report["totals"]["opened"] == 1
    assert [a["title"] for a in report["noisiest"]["by_occurrences"]] == ["AtStart | on api"]


def test_the_period_query_uses_the_created_at_index(engine: Engine) -> None:
    indexes = inspect(engine).get_indexes("incident")
    assert any(i["column_names"] == ["created_at"] for i in indexes)


def test_pages_list_who_and_when_never_the_address(engine: Engine) -> None:
    (incident_id,) = send(engine, T0, am("Errors"))
    secret_url = "mailto://alice:hunter2-pass@mail.example.com"
    with engine.begin() as conn:
        conn.execute(
            insert(NOTIFICATION).values(
                incident_id=incident_id,
                dedup_key="page:1",
                kind="page",
                address=secret_url,
                recipient="alice",
                via="schedule:primary",
                step="step 1 of 2, pass 1 of 1",
                status="sent",
                created_at=T0,
                first_due_at=T0,
                next_attempt_at=T0,
                sent_at=T0 + timedelta(seconds=3),
            )
        )
    with engine.connect() as conn:
        (page,) = incident_pages(conn, incident_id or 0)
    assert page == {
        "recipient": "alice",
        "via": "schedule:primary",
        "step": "step 1 of 2, pass 1 of 1",
        "status": "sent",
        "created_at": T0,
        "sent_at": T0 + timedelta(seconds=3),
    }
    assert "hunter2" not in repr(page)
