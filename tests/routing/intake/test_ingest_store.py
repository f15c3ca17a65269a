"""The ingest shell on the real databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from routing.intake.alert import Alert, AlertStatus, Severity
from routing.intake.dedup import DecisionKind, DedupPolicy
from routing.intake.episode_store import ALERT
from routing.intake.fingerprint import fingerprint_of
from routing.intake.incident_assignment import INCIDENT
from routing.intake.ingest import INBOX, ingest
from routing.intake.storm_sql import read_episodes
from routing.intake.submission import IngestPolicy, Submission
from routing.response.incidents import get_incident, resolve
from routing.storage.database import make_engine

T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
POLICY = IngestPolicy(
    per_source={"nginx": DedupPolicy(threshold_count=3, threshold_window=timedelta(minutes=1))}
)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def am_alert(
    name: str,
    status: str = "firing",
    service: str = "api",
    severity: Severity = Severity.WARNING,
    **extra: str,
) -> Alert:
    identity = {"alertname": name, "service": service}
    labels = {**identity, **extra}
    return Alert(
        "alertmanager",
        fingerprint_of("alertmanager", identity),
        AlertStatus(status),
        severity,
        service,
        name,
        labels=labels,
        fingerprint_fields=identity,
    )


def sentry_alert(issue: str, status: str = "firing", service: str = "api") -> Alert:
    fields = {"issue_id": issue}
    return Alert(
        "sentry",
        fingerprint_of("sentry", fields),
        AlertStatus(status),
        Severity.ERROR,
        service,
        f"TypeError in issue {issue}",
        labels={"service": service},
        fingerprint_fields=fields,
    )


def run(engine: Engine, alerts: list[Alert], at: datetime, source: str = "alertmanager"):  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        return ingest(conn, [Submission(source, alerts, body=b"{}")], at, POLICY)


def count(engine: Engine, table, *where) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def test_repeats_collapse_and_refresh_labels(engine: Engine) -> None:
    run(engine, [am_alert("HighLatency", instance="a")], T0)
    outcome = run(engine, [am_alert("HighLatency", instance="b")] * 3, T0 + timedelta(minutes=1))
    assert [a.kind for a in outcome.submissions[0].alerts] == [DecisionKind.REPEAT] * 3
    assert outcome.incident_events == []
    with engine.connect() as conn:
        row = conn.execute(select(ALERT)).mappings().one()
    assert row["occurrences"] == 4
    assert row["labels"]["instance"] == "b"
    assert row["last_seen"] == T0 + timedelta(minutes=1)
    assert count(engine, INBOX) == 2


def test_group_by_and_cross_source_correlation(engine: Engine) -> None:
    run(engine, [am_alert("HighLatency"), am_alert("ErrorRate")], T0)
    assert count(engine, INCIDENT) == 2
    run(engine, [sentry_alert("42")], T0, source="sentry")
    # The Sentry issue carries no alertname: it joins the oldest open incident of `api`.
    with engine.connect() as conn:
        first = get_incident(conn, 1)
    assert first["alert_count"] == 2
    assert {a["source"] for a in first["alerts"]} == {"alertmanager", "sentry"}
    assert first["timeline"][-1]["kind"] == "alert_joined"
    run(engine, [am_alert("HighLatency", service="web")], T0)
    assert count(engine, INCIDENT) == 3


def test_incident_severity_is_the_highest_of_its_alerts(engine: Engine) -> None:
    run(engine, [am_alert("A", severity=Severity.WARNING)], T0)
    run(engine, [sentry_alert("7")], T0, source="sentry")
    with engine.connect() as conn:
        assert get_incident(conn, 1, details=False)["severity"] == "error"


def test_all_alerts_resolved_resolves_the_incident(engine: Engine) -> None:
    run(engine, [am_alert("A"), sentry_alert("9")], T0)
    run(engine, [am_alert("A", "resolved")], T0 + timedelta(minutes=1))
    with engine.connect() as conn:
        assert get_incident(conn, 1, details=False)["status"] == "triggered"
    run(engine, [sentry_alert("9", "resolved")], T0 + timedelta(minutes=2), source="sentry")
    with engine.connect() as conn:
        incident = get_incident(conn, 1)
    assert incident["status"] == "resolved"
    assert incident["resolved_at"] == (T0 + timedelta(minutes=2)).isoformat()
    assert incident["timeline"][-1]["kind"] == "resolved"


def test_reopen_within_window_and_new_episode_after(engine: Engine) -> None:
    run(engine, [am_alert("A")], T0)
    run(engine, [am_alert("A", "resolved")], T0 + timedelta(minutes=1))
    reopened = run(engine, [am_alert("A")], T0 + timedelta(minutes=5))
    assert reopened.submissions[0].alerts[0].kind is DecisionKind.REOPEN
    assert reopened.submissions[0].alerts[0].incident_id == 1
    with engine.connect() as conn:
        assert get_incident(conn, 1, details=False)["status"] == "triggered"
    run(engine, [am_alert("A", "resolved")], T0 + timedelta(minutes=6))
    later = run(engine, [am_alert("A")], T0 + timedelta(minutes=40))
    decided = later.submissions[0].alerts[0]
    assert decided.kind is DecisionKind.NEW
    assert decided.incident_id == 2
    assert count(engine, ALERT) == 2  # a second episode of the same fingerprint


def resolve_by_hand(engine: Engine, at: datetime) -> dict:  # type: ignore[type-arg]
    with engine.begin() as conn:
        resolve(conn, 1, "alice", at, "rolled back")
        return get_incident(conn, 1)


def test_resolving_by_hand_resolves_the_firing_alerts_and_a_new_fire_pages_again(
    engine: Engine,
) -> None:
    run(engine, [am_alert("A"), sentry_alert("9")], T0)
    incident = resolve_by_hand(engine, T0 + timedelta(minutes=1))
    assert (incident["status"], incident["open_alert_count"]) == ("resolved", 0)
    assert [a["status"] for a in incident["alerts"]] == ["resolved", "resolved"]
    assert [(e["kind"], e["message"]) for e in incident["timeline"][-2:]] == [
        ("resolved", "resolved by alice: rolled back"),
        (
            "alerts_resolved",
            "2 alerts still firing resolved with the incident: firing again reopens it and pages",
        ),
    ]
    # The source still fires A: the incident opens again (and so pages) rather than
    # counting A on an incident nobody is paged for; the source's resolve of 9 is stale.
    again = run(engine, [am_alert("A")], T0 + timedelta(minutes=5)).submissions[0].alerts[0]
    assert (again.kind, again.incident_id) == (DecisionKind.REOPEN, 1)
    late = run(engine, [sentry_alert("9", "resolved")], T0 + timedelta(minutes=6), "sentry")
    assert late.submissions[0].alerts[0].kind is DecisionKind.STALE
    with engine.connect() as conn:
        reopened = get_incident(conn, 1)
    assert (reopened["status"], reopened["open_alert_count"]) == ("triggered", 1)
    assert reopened["timeline"][-1]["kind"] == "reopened"
    # After reopen_window a still-firing alert opens a new incident instead.
    resolve_by_hand(engine, T0 + timedelta(minutes=7))
    after = run(engine, [am_alert("A")], T0 + timedelta(hours=4)).submissions[0].alerts[0]
    assert (after.kind, after.incident_id) == (DecisionKind.NEW, 2)


def test_resolving_by_hand_waits_for_a_batch_that_read_its_alerts(database_url: str) -> None:
    """A batch has read alert A (holding A's identity lock, as ingest does) and will
    write a repeat: the person's resolve must wait for it, or the batch would write A
    back as firing onto the resolved incident."""
    writer, person = make_engine(database_url), make_engine(database_url)
    run(writer, [am_alert("A")], T0)
    resolved = threading.Event()
    with writer.begin() as conn:
        read_episodes(conn, [am_alert("A").fingerprint])
        thread = threading.Thread(
            target=lambda: (resolve_by_hand(person, T0 + timedelta(seconds=1)), resolved.set())
        )
        thread.start()
        assert not resolved.wait(0.5)
        ingest(conn, [Submission("alertmanager", [am_alert("A")], b"{}")], T0, POLICY)
    thread.join(10)
    assert resolved.is_set()
    with writer.connect() as conn:
        alert = get_incident(conn, 1)["alerts"][0]
    assert (alert["status"], alert["occurrences"]) == ("resolved", 2)
    writer.dispose()
    person.dispose()


def test_nginx_threshold_holds_the_alert_pending(engine: Engine) -> None:
    line = Alert(
        "nginx", "f" * 32, AlertStatus.FIRING, Severity.ERROR, "api", "connect() failed",
        labels={"service": "api"},
    )  # fmt: skip
    kinds = [
        run(engine, [line], T0 + timedelta(seconds=i), source="nginx").submissions[0].alerts[0].kind
        for i in range(3)
    ]
    assert kinds == [DecisionKind.PENDING, DecisionKind.PENDING, DecisionKind.NEW]
    assert count(engine, INCIDENT) == 1


def test_stale_resolve_changes_nothing(engine: Engine) -> None:
    outcome = run(engine, [am_alert("Never", "resolved")], T0)
    assert outcome.submissions[0].alerts[0].kind is DecisionKind.STALE
    assert count(engine, ALERT) == 0 and count(engine, INBOX) == 1


def test_concurrent_writers_make_one_alert_and_one_incident(database_url: str) -> None:
    """Several connections ingest the same alerts at once (row locks, not luck)."""
    engines = [make_engine(database_url) for _ in range(4)]
    alerts = [am_alert(f"Alert{i % 5}", instance=str(i)) for i in range(40)]
    barrier = threading.Barrier(len(engines))
    errors: list[BaseException] = []

    def worker(engine: Engine) -> None:
        barrier.wait()
        try:
            for _ in range(5):
                run(engine, alerts, T0)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    open_alerts = count(engines[0], ALERT, ALERT.c.status == "firing")
    assert open_alerts == 5
    assert count(engines[0], INCIDENT) == 5
    with engines[0].connect() as conn:
        total = conn.execute(select(func.sum(ALERT.c.occurrences))).scalar_one()
    assert total == 4 * 5 * 40
    for engine in engines:
        engine.dispose()
