"""Escalations on SQLite and PostgreSQL: starting in the ingest transaction, steps, stopping."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, update

from routing.paging.escalation_store import (
    ESCALATION,
    NOTIFICATION,
    escalations_of,
    start_paging,
    stop_escalations,
)
from routing.paging.outbox import claim_due, notifications_of
from routing.paging.policy import PolicyConfig
from routing.paging.triage import StepKind
from routing.response.actions import resolve
from routing.response.incidents import acknowledge
from tests.routing.paging.store_support import (
    CONFIG,
    WAIT,
    alert,
    count,
    pages,
    receive,
    steps,
    timeline,
)
from tests.support.paging import T0


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
