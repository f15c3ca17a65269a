"""Muting on SQLite and PostgreSQL: stored and config silences and inhibitions hold paging."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, insert, select

from routing.intake.alert import Severity
from routing.muting.silence_store import SILENCE
from routing.paging.escalation_store import (
    DECISION,
    ESCALATION,
    NOTIFICATION,
    cancel_pending_pages,
    escalations_of,
)
from routing.paging.outbox import notifications_of
from routing.paging.policy import PolicyConfig
from routing.paging.triage import StepKind
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
