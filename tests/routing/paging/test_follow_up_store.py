"""Paging after an incident opened, on SQLite and PostgreSQL: an incident held by a silence
or an inhibition is paged once when the mute ends; channel updates and reminders follow
Alertmanager's group_interval and repeat_interval."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, update

from routing.intake.alert import Severity
from routing.muting import silence_store
from routing.muting.silence import Silence
from routing.paging.escalation_store import DECISION, ESCALATION, NOTIFICATION, escalations_of
from routing.paging.follow_up import FeedKind, ReleaseKind
from routing.paging.follow_up_pass import FollowUpReport, run_follow_ups
from routing.paging.follow_up_store import HOLD, feeds_of, holds_of
from routing.paging.outbox import notifications_of
from routing.response import actions as response
from tests.routing.paging.store_support import CONFIG, WAIT, alert, count, receive, steps, timeline
from tests.support.paging import T0


def follow_up(engine: Engine, at: datetime) -> FollowUpReport:
    with engine.begin() as conn:
        return run_follow_ups(conn, CONFIG, at)


def silence(engine: Engine, ends_at: datetime) -> str:
    with engine.begin() as conn:
        stored = silence_store.create(
            conn,
            Silence(
                matchers=['service="api"'],
                starts_at=T0 - timedelta(minutes=1),
                ends_at=ends_at,
                created_by="bob",
                comment="deploy",
            ),
            T0,
        )
    assert stored.id is not None
    return stored.id


def holds(engine: Engine, incident_id: int = 1) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return holds_of(conn, incident_id)


def channel_rows(engine: Engine, incident_id: int = 1) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [r for r in notifications_of(conn, incident_id) if r["kind"] == "channel"]


def late(engine: Engine, incident_id: int = 1) -> list[str]:
    return [m for k, m in timeline(engine, incident_id) if k == "routed_late"]


def test_a_silenced_incident_pages_once_when_its_silence_is_deleted(engine: Engine) -> None:
    sid = silence(engine, T0 + timedelta(hours=2))
    receive(engine, [alert()], T0)
    assert count(engine, ESCALATION) == 0 and count(engine, NOTIFICATION) == 0
    [held] = holds(engine)
    assert (held["state"], held["outcome"], held["silence_id"]) == ("held", "silenced", sid)
    assert held["recheck_at"] == T0 + timedelta(seconds=15)

    assert follow_up(engine, T0 + timedelta(minutes=1)).holds == [
        (1, ReleaseKind.KEEP, "silenced by " + sid + ": deploy")
    ]
    assert count(engine, ESCALATION) == 0

    ended = T0 + timedelta(minutes=10)
    with engine.begin() as conn:
        silence_store.expire(conn, sid, "carol", ended)
    assert holds(engine)[0]["recheck_at"] == ended  # due on the worker's next pass

    [(_, kind, _)] = follow_up(engine, ended).holds
    assert kind is ReleaseKind.PAGE
    assert late(engine) == [
        f"paging started late: silence {sid} was ended early by carol at 2026-05-04 10:10 UTC; "
        "paging with escalation ops and 1 channel (route root)"
    ]
    with engine.connect() as conn:
        [esc] = escalations_of(conn, 1)
    assert (esc["state"], esc["due_at"], esc["round"]) == ("active", ended, 1)  # no group_wait
    assert [r["next_attempt_at"] for r in channel_rows(engine)] == [ended]
    assert holds(engine)[0]["state"] == "paged"
    [report] = steps(engine, ended)
    assert {r.name for r in report.recipients} == {"alice"}

    # Never twice: later passes, and a replay of the same release, add nothing.
    assert follow_up(engine, ended + timedelta(minutes=1)).holds == []
    with engine.begin() as conn:
        conn.execute(update(HOLD).values(state="held", recheck_at=ended))
    assert follow_up(engine, ended + timedelta(minutes=1)).holds[0][1] is ReleaseKind.PAGE
    assert count(engine, ESCALATION) == 1 and len(channel_rows(engine)) == 1
    assert len(late(engine)) == 1
    assert holds(engine)[0]["reason"] == "already paged"


def test_a_silence_running_out_pages_at_its_end(engine: Engine) -> None:
    end = T0 + timedelta(hours=1)
    sid = silence(engine, end)
    receive(engine, [alert()], T0)
    assert follow_up(engine, end - timedelta(seconds=1)).holds[0][1] is ReleaseKind.KEEP
    # Looked at again exactly when the silence ends, not a recheck interval later.
    assert holds(engine)[0]["recheck_at"] == end
    assert follow_up(engine, end).holds[0][1] is ReleaseKind.PAGE
    assert late(engine)[0].startswith(
        f"paging started late: silence {sid} expired at 2026-05-04 11:00 UTC; "
    )
    with engine.connect() as conn:
        outcomes = [r["outcome"] for r in conn.execute(DECISION.select()).mappings()]
    assert outcomes == ["silenced", "routed"]


def test_an_inhibited_incident_pages_when_the_inhibiting_alert_resolves(engine: Engine) -> None:
    receive(engine, [alert("ClusterDown")], T0)  # incident 1 pages
    receive(engine, [alert("HighLatency", severity=Severity.WARNING)], T0)  # incident 2
    [held] = holds(engine, 2)
    assert held["outcome"] == "inhibited"
    assert follow_up(engine, T0 + timedelta(minutes=1)).holds[0][1] is ReleaseKind.KEEP
    receive(engine, [alert("ClusterDown", status="resolved")], T0 + timedelta(minutes=2))
    at = T0 + timedelta(minutes=2, seconds=15)
    assert [h[:2] for h in follow_up(engine, at).holds] == [(2, ReleaseKind.PAGE)]
    assert late(engine, 2)[0].startswith(
        "paging started late: the inhibiting alert stopped firing (it was inhibited by firing "
        "alert service=api"
    )
    with engine.connect() as conn:
        assert [e["due_at"] for e in escalations_of(conn, 2)] == [at]


def test_an_incident_acknowledged_while_muted_is_never_paged(engine: Engine) -> None:
    silence(engine, T0 + timedelta(minutes=30))
    receive(engine, [alert()], T0)
    with engine.begin() as conn:
        response.acknowledge(conn, 1, "alice", T0 + timedelta(minutes=5))
    report = follow_up(engine, T0 + timedelta(hours=1))
    assert report.holds == [(1, ReleaseKind.DROP, "incident acknowledged while muted")]
    assert count(engine, ESCALATION) == 0 and count(engine, NOTIFICATION) == 0
    assert follow_up(engine, T0 + timedelta(hours=2)).holds == []


def test_an_alert_joining_unmuted_ends_the_hold(engine: Engine) -> None:
    # Only the instance node-1 is silenced; node-2 joins the same incident unmuted.
    with engine.begin() as conn:
        silence_store.create(
            conn,
            Silence(
                matchers=['instance="node-1"'],
                starts_at=T0,
                ends_at=T0 + timedelta(hours=1),
                created_by="bob",
            ),
            T0,
        )
    receive(engine, [alert(instance="node-1")], T0)
    assert holds(engine)[0]["state"] == "held"
    receive(engine, [alert(instance="node-2")], T0 + timedelta(minutes=1))
    assert (holds(engine)[0]["state"], count(engine, ESCALATION)) == ("paged", 1)
    assert follow_up(engine, T0 + timedelta(hours=2)).holds == []
    assert count(engine, ESCALATION) == 1 and late(engine) == []


def test_repeat_interval_reminds_the_channels_until_acknowledged(engine: Engine) -> None:
    receive(engine, [alert()], T0)
    first_post = T0 + WAIT
    [feed] = feeds(engine)
    assert (feed["next_check_at"], feed["repeat_interval_s"]) == (
        first_post + timedelta(hours=4),
        4 * 3600,
    )
    assert follow_up(engine, T0 + timedelta(hours=4)).feeds == []
    [(_, kind, reason)] = follow_up(engine, first_post + timedelta(hours=4)).feeds
    assert (kind, reason) == (
        FeedKind.POST,
        "channel reminder: still not acknowledged 4h after the last post",
    )
    rows = channel_rows(engine)
    assert [r["step"] for r in rows] == [
        None,
        "reminder: still not acknowledged (repeated every 4h)",
    ]
    assert len({r["dedup_key"] for r in rows}) == 2
    assert follow_up(engine, first_post + timedelta(hours=5)).feeds == []  # once per interval
    with engine.begin() as conn:
        response.acknowledge(conn, 1, "alice", first_post + timedelta(hours=5))
    assert follow_up(engine, first_post + timedelta(hours=8)).feeds == [
        (1, FeedKind.DONE, "incident acknowledged")
    ]
    assert len(channel_rows(engine)) == 2


def test_a_silenced_incident_is_not_reminded(engine: Engine) -> None:
    receive(engine, [alert()], T0)
    silence(engine, T0 + timedelta(hours=6))
    [(_, kind, reason)] = follow_up(engine, T0 + WAIT + timedelta(hours=4)).feeds
    assert kind is FeedKind.WAIT and reason.startswith("silenced by ")
    assert len(channel_rows(engine)) == 1


def test_group_interval_sends_one_update_for_alerts_joining_a_notified_incident(
    engine: Engine,
) -> None:
    receive(engine, [alert(instance="node-1")], T0)
    receive(engine, [alert(instance="node-2")], T0 + timedelta(minutes=1))
    receive(engine, [alert(instance="node-3")], T0 + timedelta(minutes=2))
    update_at = T0 + WAIT + timedelta(minutes=5)  # group_interval after the first post
    [feed] = feeds(engine)
    assert (feed["joined"], feed["update_due_at"]) == (2, update_at)
    assert follow_up(engine, update_at - timedelta(seconds=1)).feeds == []
    [(_, kind, reason)] = follow_up(engine, update_at).feeds
    assert (kind, reason) == (
        FeedKind.POST,
        "channel update: 2 new alerts joined since the last post",
    )
    assert [r["step"] for r in channel_rows(engine)] == [None, "update: 2 new alerts joined"]
    assert follow_up(engine, update_at + timedelta(minutes=10)).feeds == []
    assert ("channel_update", f"{reason} (route root)") in timeline(engine)


def feeds(engine: Engine, incident_id: int = 1) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return feeds_of(conn, incident_id)


def test_a_reopened_incident_reminds_once_per_channel_not_once_per_opening(
    engine: Engine,
) -> None:
    receive(engine, [alert()], T0)
    receive(engine, [alert(status="resolved")], T0 + timedelta(minutes=1))
    receive(engine, [alert()], T0 + timedelta(minutes=2))  # reopened: round 2
    assert [(f["round"], f["state"]) for f in feeds(engine)] == [(1, "active"), (2, "active")]
    first_feed_due = T0 + WAIT + timedelta(hours=4)
    assert follow_up(engine, first_feed_due).feeds == [
        (1, FeedKind.DONE, "the incident resolved and opened again")
    ]
    [(_, kind, _)] = follow_up(engine, T0 + timedelta(minutes=2) + WAIT + timedelta(hours=4)).feeds
    assert kind is FeedKind.POST
    assert len(channel_rows(engine)) == 3  # one first post per opening, one reminder
