"""The paging shells on the real databases (SQLite and PostgreSQL): starting escalations in
the ingest transaction, muting, running due steps, stopping, and the outbox claims."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select, update

from routing.intake.alert import Alert, AlertStatus, Severity
from routing.intake.fingerprint import fingerprint_of
from routing.intake.ingest import BatchOutcome, IngestPolicy, Submission, ingest
from routing.paging.escalation_steps import run_due_escalations
from routing.paging.escalation_store import (
    DECISION,
    ESCALATION,
    NOTIFICATION,
    SILENCE,
    cancel_pending_pages,
    escalations_of,
    start_paging,
    stop_escalations,
)
from routing.paging.outbox import claim_due, next_due, notifications_of, record_result
from routing.paging.policy import PolicyConfig
from routing.paging.triage import StepKind
from routing.response.actions import resolve
from routing.response.incidents import acknowledge, get_incident
from routing.storage.database import make_engine
from tests.support.paging import T0

CONFIG = PolicyConfig.model_validate(
    {
        "users": [
            {
                "name": "alice",
                "contacts": ["json://127.0.0.1:1/alice", "ntfy://ntfy.example/alice"],
            },
            {"name": "bob", "contacts": ["json://127.0.0.1:1/bob"]},
        ],
        "teams": [{"name": "ops", "members": ["alice"], "channels": ["slack:#ops"]}],
        "schedules": [
            {"name": "primary", "layers": [{"rotation": "weekly", "members": ["alice"]}]}
        ],
        "escalation_policies": [
            {
                "name": "ops",
                "repeat": 1,
                "steps": [
                    {"notify": ["schedule:primary"], "wait": "5m"},
                    {"notify": ["user:bob", "team:ops"], "wait": "5m"},
                ],
            }
        ],
        "route": {
            "receiver": {"escalation": "ops", "channels": ["json://127.0.0.1:1/channel"]},
            "group_wait": "30s",
        },
        "inhibit_rules": [
            {
                "source_matchers": ['alertname="ClusterDown"'],
                "target_matchers": ['severity="warning"'],
                "equal": ["service"],
            }
        ],
    }
)
WAIT = timedelta(seconds=30)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def alert(
    name: str = "HighLatency",
    status: str = "firing",
    severity: Severity = Severity.CRITICAL,
    **labels: str,
) -> Alert:
    identity = {"alertname": name, "service": "api", **labels}
    return Alert(
        "alertmanager",
        fingerprint_of("alertmanager", identity),
        AlertStatus(status),
        severity,
        "api",
        name,
        labels={**identity, "severity": severity.value},
        annotations={"summary": f"{name} summary"},
        fingerprint_fields=identity,
    )


def receive(
    engine: Engine, alerts: list[Alert], at: datetime, config: PolicyConfig = CONFIG
) -> BatchOutcome:
    """What the Intake does: ingest and the paging hook in one transaction."""
    with engine.begin() as conn:
        outcome = ingest(conn, [Submission("alertmanager", alerts, body=b"{}")], at, IngestPolicy())
        start_paging(conn, outcome.incident_events, at, config)
    return outcome


def count(engine: Engine, table: Any, *where: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def steps(engine: Engine, at: datetime, config: PolicyConfig = CONFIG) -> list[Any]:
    with engine.begin() as conn:
        return run_due_escalations(conn, config, at)


def timeline(engine: Engine, incident_id: int = 1) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [(t["kind"], t["message"]) for t in get_incident(conn, incident_id)["timeline"]]


def pages(engine: Engine, incident_id: int = 1) -> list[tuple[str, str, str | None]]:
    with engine.connect() as conn:
        rows = notifications_of(conn, incident_id)
    return [(r["kind"], r["address"], r["step"]) for r in rows]


def test_an_opened_incident_starts_one_escalation_and_its_channel_posts(engine: Engine) -> None:
    outcome = receive(engine, [alert()], T0)
    with engine.connect() as conn:
        [esc] = escalations_of(conn, 1)
    assert (esc["policy"], esc["state"], esc["round"]) == ("ops", "active", 1)
    assert esc["due_at"] == T0 + WAIT
    assert pages(engine) == [("channel", "json://127.0.0.1:1/channel", None)]
    assert ("routed", "paging with escalation ops and 1 channel (route root)") in timeline(engine)
    # Replaying the hook (or a second replica deciding the same events) adds nothing.
    with engine.begin() as conn:
        start_paging(conn, outcome.incident_events, T0, CONFIG)
    assert count(engine, ESCALATION) == 1 and count(engine, NOTIFICATION) == 1


def test_steps_page_in_order_through_every_pass_then_finish(engine: Engine) -> None:
    receive(engine, [alert()], T0)
    assert steps(engine, T0) == []  # group_wait not over yet
    first = steps(engine, T0 + WAIT)
    assert [(r.kind, r.label) for r in first] == [(StepKind.PAGE, "step 1 of 2 (pass 1 of 2)")]
    assert {r.address for r in first[0].recipients} == {
        "json://127.0.0.1:1/alice",
        "ntfy://ntfy.example/alice",
    }
    assert steps(engine, T0 + WAIT + timedelta(minutes=4)) == []
    at = T0 + WAIT + timedelta(minutes=5)
    for label in (
        "step 2 of 2 (pass 1 of 2)",
        "step 1 of 2 (pass 2 of 2)",
        "step 2 of 2 (pass 2 of 2)",
    ):
        [report] = steps(engine, at)
        assert report.label == label
        at += timedelta(minutes=5)
    assert report.finished
    assert steps(engine, at + timedelta(hours=1)) == []
    kinds = [k for k, _ in timeline(engine)]
    assert kinds.count("escalation_step") == 4 and kinds[-1] == "escalation_done"
    messages = dict(timeline(engine))
    assert (
        messages["escalation_done"] == "escalation ops finished: nobody acknowledged after 2 passes"
    )
    step_messages = [m for k, m in timeline(engine) if k == "escalation_step"]
    assert step_messages[0] == "step 1 of 2 (pass 1 of 2): paged alice via schedule:primary"
    assert step_messages[1] == (
        "step 2 of 2 (pass 1 of 2): paged bob via user:bob; notified team ops via team:ops"
    )
    page_rows = [p for p in pages(engine) if p[0] == "page"]
    assert len(page_rows) == 2 * (2 + 2)  # alice's two contacts; bob and the ops channel
    assert page_rows[0][2] == "step 1 of 2, pass 1 of 2"


def test_rerunning_a_step_never_pages_twice(engine: Engine) -> None:
    receive(engine, [alert()], T0)
    steps(engine, T0 + WAIT)
    before = count(engine, NOTIFICATION)
    # A crash after the pages were written but "before" the advance: run the same step again.
    with engine.begin() as conn:
        conn.execute(update(ESCALATION).values(pass_no=0, step_no=0, due_at=T0 + WAIT))
    [again] = steps(engine, T0 + WAIT)
    assert again.label == "step 1 of 2 (pass 1 of 2)"
    assert count(engine, NOTIFICATION) == before


def test_an_acknowledged_incident_stops_when_its_step_comes_due(engine: Engine) -> None:
    receive(engine, [alert()], T0)
    steps(engine, T0 + WAIT)
    with engine.begin() as conn:
        acknowledge(conn, 1, "alice", T0 + timedelta(minutes=1))
    [report] = steps(engine, T0 + WAIT + timedelta(minutes=5))
    assert report.kind is StepKind.STOP
    with engine.connect() as conn:
        assert escalations_of(conn, 1)[0]["state"] == "stopped"
    assert timeline(engine)[-1] == (
        "escalation_stopped",
        "escalation ops stopped: incident acknowledged",
    )
    assert not any(p[2] and "step 2" in p[2] for p in pages(engine))


def test_stop_escalations_cancels_undelivered_pages_in_the_ack_transaction(engine: Engine) -> None:
    receive(engine, [alert()], T0)
    steps(engine, T0 + WAIT)
    with engine.begin() as conn:
        acknowledge(conn, 1, "bob", T0 + timedelta(minutes=1))
        assert (
            stop_escalations(conn, 1, T0 + timedelta(minutes=1), "acknowledged by bob", "bob") == 1
        )
        assert stop_escalations(conn, 1, T0 + timedelta(minutes=1), "again") == 0  # idempotent
    with engine.connect() as conn:
        rows = notifications_of(conn, 1)
    assert {r["status"] for r in rows if r["kind"] == "page"} == {"cancelled"}
    assert {r["status"] for r in rows if r["kind"] == "channel"} == {"pending"}
    assert ("escalation_stopped", "escalation ops stopped: acknowledged by bob") in timeline(engine)
    assert steps(engine, T0 + timedelta(hours=1)) == []


def test_all_alerts_resolving_stops_the_escalation(engine: Engine) -> None:
    receive(engine, [alert()], T0)
    receive(engine, [alert(status="resolved")], T0 + timedelta(seconds=10))
    with engine.begin() as conn:
        [esc] = escalations_of(conn, 1)
        claimed = claim_due(conn, T0 + timedelta(minutes=1), "w1")
    assert esc["state"] == "stopped" and esc["reason"].startswith("incident resolved")
    assert claimed == []  # the channel post of a group resolved within group_wait is dropped
    assert pages(engine) == [("channel", "json://127.0.0.1:1/channel", None)]
    with engine.connect() as conn:
        assert notifications_of(conn, 1)[0]["status"] == "cancelled"


def test_a_reopened_incident_pages_again_in_a_new_round(engine: Engine) -> None:
    receive(engine, [alert()], T0)
    receive(engine, [alert(status="resolved")], T0 + timedelta(minutes=1))
    outcome = receive(engine, [alert()], T0 + timedelta(minutes=2))
    assert [e.kind.value for e in outcome.incident_events] == ["reopened"]
    with engine.connect() as conn:
        rounds = [(e["round"], e["state"]) for e in escalations_of(conn, 1)]
    assert rounds == [(1, "stopped"), (2, "active")]
    assert count(engine, NOTIFICATION, NOTIFICATION.c.kind == "channel") == 2


def test_resolved_by_hand_while_firing_the_next_fire_pages_again(engine: Engine) -> None:
    receive(engine, [alert()], T0)
    with engine.begin() as conn:
        resolve(conn, 1, "alice", T0 + timedelta(minutes=1))
    outcome = receive(engine, [alert()], T0 + timedelta(minutes=6))  # Alertmanager resends
    assert [e.kind.value for e in outcome.incident_events] == ["reopened"]
    with engine.connect() as conn:
        rounds = [(e["round"], e["state"]) for e in escalations_of(conn, 1)]
    assert rounds == [(1, "stopped"), (2, "active")]


def test_a_silence_made_while_paging_pauses_the_next_step_until_it_ends(engine: Engine) -> None:
    receive(engine, [alert()], T0)
    steps(engine, T0 + WAIT)  # step 1 pages alice; step 2 is due 5 minutes later
    silence_ends = T0 + timedelta(hours=1)
    with engine.begin() as conn:
        conn.execute(
            insert(SILENCE).values(
                id="5e1f-snooze",
                matchers=['service="api"'],
                starts_at=T0 + timedelta(minutes=1),
                ends_at=silence_ends,
                created_by="alice",
                comment="looking",
                created_at=T0 + timedelta(minutes=1),
            )
        )
        # What silencing from chat also does: alice's undelivered pages are dropped.
        assert cancel_pending_pages(conn, 1, T0 + timedelta(minutes=1), "silenced by alice") == 2
    step_two_due = T0 + WAIT + timedelta(minutes=5)
    for at in (step_two_due, step_two_due + timedelta(minutes=20)):  # re-checked meanwhile
        [report] = steps(engine, at)
        assert report.kind is StepKind.PAUSE
    with engine.connect() as conn:
        [esc] = escalations_of(conn, 1)
    assert (esc["state"], esc["step_no"]) == ("active", 1)
    assert esc["paused_reason"] == "silenced by 5e1f-snooze: looking"
    paused = [m for k, m in timeline(engine) if k == "escalation_paused"]
    assert paused == [
        "escalation ops paused before step 2 of 2 (pass 1 of 2): silenced by 5e1f-snooze: looking"
    ]  # once, however often it is looked at
    assert not any(p[2] and "step 2" in p[2] for p in pages(engine))

    [report] = steps(engine, silence_ends)  # nobody acknowledged: the escalation goes on
    assert report.kind is StepKind.PAGE and report.label == "step 2 of 2 (pass 1 of 2)"
    assert {r.name for r in report.recipients} == {"bob", "ops"}
    kinds = [k for k, _ in timeline(engine)]
    assert kinds[-2:] == ["escalation_resumed", "escalation_step"]
    with engine.connect() as conn:
        [esc] = escalations_of(conn, 1)
        statuses = {(n["recipient"], n["status"]) for n in notifications_of(conn, 1)}
    assert (esc["paused_at"], esc["paused_reason"]) == (None, None)
    assert ("alice", "cancelled") in statuses and ("bob", "pending") in statuses


def test_a_silence_made_during_group_wait_pauses_the_first_step(engine: Engine) -> None:
    receive(engine, [alert()], T0)  # the route's group_wait: the first step is due at T0+30s
    with engine.begin() as conn:
        conn.execute(
            insert(SILENCE).values(
                id="9a2c-quick",
                matchers=['alertname="HighLatency"'],
                starts_at=T0,
                ends_at=T0 + timedelta(minutes=10),
                created_by="bob",
                comment="known",
                created_at=T0 + timedelta(seconds=5),
            )
        )
    [report] = steps(engine, T0 + WAIT)
    assert (report.kind, report.label) == (StepKind.PAUSE, "step 1 of 2 (pass 1 of 2)")
    assert not [p for p in pages(engine) if p[0] == "page"]


def test_a_stored_silence_mutes_and_is_recorded_then_an_unsilenced_alert_pages(
    engine: Engine,
) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(SILENCE).values(
                id="0b7c1f4e-silence",
                matchers=['instance="node-1"'],
                starts_at=T0 - timedelta(hours=1),
                ends_at=T0 + timedelta(hours=1),
                created_by="alice",
                comment="reboot",
                created_at=T0 - timedelta(hours=1),
            )
        )
    receive(engine, [alert(instance="node-1")], T0)
    assert count(engine, ESCALATION) == 0 and count(engine, NOTIFICATION) == 0
    assert ("silenced", "silenced by 0b7c1f4e-silence: reboot") in timeline(engine)
    with engine.connect() as conn:
        decision = conn.execute(select(DECISION)).mappings().one()
    assert (decision["outcome"], decision["silence_id"]) == ("silenced", "0b7c1f4e-silence")
    # node-2 joins the same incident (same group) and is not silenced: paging starts.
    outcome = receive(engine, [alert(instance="node-2")], T0 + timedelta(minutes=1))
    assert [e.kind.value for e in outcome.incident_events] == ["alert_added"]
    assert count(engine, ESCALATION) == 1
    # A third silenced alert joining adds no record: nothing new started.
    receive(engine, [alert(instance="node-1", name="HighLatency")], T0 + timedelta(minutes=2))
    assert count(engine, DECISION) == 2


def test_an_expired_stored_silence_no_longer_mutes(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(SILENCE).values(
                id="ended",
                matchers=['service="api"'],
                starts_at=T0 - timedelta(hours=1),
                ends_at=T0 + timedelta(hours=1),
                created_by="alice",
                comment="",
                created_at=T0 - timedelta(hours=1),
                expired_at=T0 - timedelta(minutes=1),
                expired_by="alice",
            )
        )
    receive(engine, [alert()], T0)
    assert count(engine, ESCALATION) == 1


def test_a_firing_alert_in_the_database_inhibits_a_warning(engine: Engine) -> None:
    receive(engine, [alert("ClusterDown")], T0)
    receive(engine, [alert("SlowQueries", severity=Severity.WARNING)], T0 + timedelta(seconds=5))
    assert count(engine, ESCALATION) == 1  # only ClusterDown's
    kinds = dict(timeline(engine, 2))
    assert kinds["inhibited"].startswith("inhibited by firing alert service=api")


def test_config_silences_are_named_by_their_place(engine: Engine) -> None:
    config = PolicyConfig.model_validate(
        {
            **CONFIG.model_dump(mode="json", by_alias=True),
            "silences": [
                {
                    "matchers": ['alertname="Noisy"'],
                    "recurrence": {"weekdays": ["monday"]},
                    "comment": "weekly batch",
                }
            ],
        }
    )
    receive(engine, [alert("Noisy")], T0, config)  # T0 is a Monday
    assert ("silenced", "silenced by config:0: weekly batch") in timeline(engine)


# ------------------------------------------------------------------ the outbox


def _due_pages(engine: Engine) -> None:
    receive(engine, [alert()], T0)
    steps(engine, T0 + WAIT)


def test_claims_are_disjoint_and_run_out(engine: Engine) -> None:
    _due_pages(engine)
    at = T0 + WAIT
    with engine.begin() as conn:
        first = claim_due(conn, at, "w1", limit=2, claim_for=timedelta(seconds=60))
    with engine.begin() as conn:
        second = claim_due(conn, at, "w2", claim_for=timedelta(seconds=60))
    ids_1 = {c.row["id"] for c in first}
    ids_2 = {c.row["id"] for c in second}
    assert len(ids_1) == 2 and len(ids_2) == 1 and not ids_1 & ids_2
    assert (
        first[0].incident["id"] == 1 and first[0].alerts[0]["labels"]["alertname"] == "HighLatency"
    )
    with engine.begin() as conn:
        assert claim_due(conn, at + timedelta(seconds=59), "w3") == []
        assert next_due(conn) == at + timedelta(seconds=60)
    # w1 crashed: its rows are claimable again once the claim ran out.
    with engine.begin() as conn:
        third = claim_due(conn, at + timedelta(seconds=60), "w3")
    assert {c.row["id"] for c in third} == ids_1 | ids_2
    # w1 comes back late: its result is not stored over w3's claim.
    with engine.begin() as conn:
        assert not record_result(conn, min(ids_1), "w1", {"status": "sent"})
        assert record_result(conn, min(ids_1), "w3", {"status": "sent", "attempts": 1})
    with engine.connect() as conn:
        row = (
            conn.execute(select(NOTIFICATION).where(NOTIFICATION.c.id == min(ids_1)))
            .mappings()
            .one()
        )
    assert (row["status"], row["claimed_until"], row["claimed_by"]) == ("sent", None, "w3")


def test_pages_of_an_acknowledged_incident_are_cancelled_at_claim(engine: Engine) -> None:
    _due_pages(engine)
    with engine.begin() as conn:
        acknowledge(conn, 1, "alice", T0 + WAIT)
    with engine.begin() as conn:
        claimed = claim_due(conn, T0 + WAIT, "w1")
    assert [c.row["kind"] for c in claimed] == ["channel"]
    with engine.connect() as conn:
        statuses = {r["kind"]: r["status"] for r in notifications_of(conn, 1)}
    assert statuses == {"channel": "pending", "page": "cancelled"}


# ------------------------------------------------------------------ replicas (PostgreSQL)


@pytest.mark.postgres
def test_concurrent_workers_run_each_step_once(pg_database_url: str) -> None:
    """Four workers on their own connections race over 30 due escalations (SKIP LOCKED)."""
    engine = make_engine(pg_database_url, pool_size=8)
    for i in range(30):
        receive(engine, [alert(f"Alert{i}")], T0)
    barrier = threading.Barrier(4)
    reports: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        try:
            for _ in range(10):
                with engine.begin() as conn:
                    done = run_due_escalations(conn, CONFIG, T0 + WAIT, limit=3)
                with lock:
                    reports.extend(done)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(r.escalation_id for r in reports) == list(range(1, 31))
    assert count(engine, ESCALATION, ESCALATION.c.step_no == 1) == 30
    assert count(engine, NOTIFICATION, NOTIFICATION.c.kind == "page") == 60
    engine.dispose()


@pytest.mark.postgres
def test_concurrent_claimers_never_share_a_row(pg_database_url: str) -> None:
    engine = make_engine(pg_database_url, pool_size=8)
    for i in range(20):
        receive(engine, [alert(f"Alert{i}")], T0)
    with engine.begin() as conn:
        run_due_escalations(conn, CONFIG, T0 + WAIT)
    barrier = threading.Barrier(4)
    claimed: dict[str, list[int]] = {}

    def claimer(name: str) -> None:
        barrier.wait()
        mine: list[int] = []
        for _ in range(10):
            with engine.begin() as conn:
                mine += [c.row["id"] for c in claim_due(conn, T0 + WAIT, name, limit=3)]
        claimed[name] = mine

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for ids in claimed.values() for i in ids]
    assert len(every) == len(set(every)) == count(engine, NOTIFICATION)  # 20 channel + 40 pages
    engine.dispose()


def test_an_unreadable_stored_silence_is_skipped_not_fatal(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(SILENCE).values(
                id="broken",
                matchers=['service=~".*"'],  # would silence everything: refused by the model
                starts_at=T0 - timedelta(hours=1),
                ends_at=T0 + timedelta(hours=1),
                created_by="db",
                comment="",
                created_at=T0,
            )
        )
    receive(engine, [alert()], T0)
    assert count(engine, ESCALATION) == 1
    assert "silence broken is invalid and ignored" in caplog.text


def test_a_step_paging_more_people_than_one_statement_holds(engine: Engine) -> None:
    """A pass's pages are written in chunks: 6000 pages x 12 columns is past the 65535
    parameters a PostgreSQL statement holds (and SQLite's default 32766)."""
    people = [f"u{i}" for i in range(6000)]
    config = PolicyConfig.model_validate(
        {
            "users": [{"name": p, "contacts": [f"json://127.0.0.1:1/{p}"]} for p in people],
            "escalation_policies": [
                {"name": "ops", "steps": [{"notify": [f"user:{p}" for p in people]}]}
            ],
            "route": {"receiver": {"escalation": "ops"}, "group_wait": "30s"},
        }
    )
    receive(engine, [alert()], T0, config)
    [report] = steps(engine, T0 + WAIT, config)
    assert len(report.recipients) == len(people)
    assert count(engine, NOTIFICATION, NOTIFICATION.c.kind == "page") == len(people)
