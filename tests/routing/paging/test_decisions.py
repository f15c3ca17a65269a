"""Pure paging decisions: triage (silence, inhibition, time mute, routes), escalation steps,
delivery outcomes and the message built from an incident."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.workers.paging_delivery import LinkSettings, ack_hint, after_delivery, notification_for
from integrations.notifiers import DeliveryResult
from routing.muting.silence import Silence
from routing.paging.escalation import EscalationPolicy, Recipient
from routing.paging.outbox import Claimed, cancel_reason
from routing.paging.policy import PolicyConfig
from routing.paging.triage import (
    StepKind,
    Triage,
    TriageOutcome,
    channel_key,
    decide_step,
    describe_reach,
    next_step,
    notification_step_text,
    page_key,
    routing_labels,
    step_label,
    triage,
)

MONDAY_NOON = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
SATURDAY_NOON = datetime(2026, 5, 9, 12, 0, tzinfo=UTC)

CONFIG = PolicyConfig.model_validate(
    {
        "users": [
            {"name": "alice", "contacts": ["json://127.0.0.1:1/alice"]},
            {"name": "bob", "contacts": ["json://127.0.0.1:1/bob"]},
        ],
        "teams": [{"name": "ops", "members": ["alice"], "channels": ["slack:#ops"]}],
        "escalation_policies": [
            {"name": "critical", "steps": [{"notify": ["user:alice"]}]},
            {"name": "web", "steps": [{"notify": ["user:bob"]}]},
        ],
        "time_intervals": [{"name": "weekdays", "weekdays": ["monday:friday"]}],
        "route": {
            "receiver": {},
            "group_wait": "30s",
            "routes": [
                {
                    "matchers": ['severity="critical"'],
                    "receiver": {"escalation": "critical", "channels": ["slack:#ops"]},
                    "continue": True,
                },
                {
                    "matchers": ['service="web"'],
                    "receiver": {"escalation": "web", "channels": ["slack:#ops"]},
                    "group_wait": "0s",
                },
                {
                    "matchers": ['severity="warning"'],
                    "receiver": {"channels": ["slack:#warnings"]},
                    "active_time_intervals": ["weekdays"],
                },
            ],
        },
        "inhibit_rules": [
            {
                "source_matchers": ['alertname="DatacenterDown"'],
                "target_matchers": ['severity="warning"'],
                "equal": ["dc"],
            }
        ],
    }
)


def labels(**values: str) -> dict[str, str]:
    return {"alertname": "HighLatency", "service": "api", "severity": "critical", **values}


def silence(sid: str, matcher: str, start: datetime, end: datetime) -> Silence:
    return Silence.model_validate(
        {"id": sid, "matchers": [matcher], "starts_at": start, "ends_at": end, "comment": "deploy"}
    )


# ------------------------------------------------------------------ triage


def test_routes_with_continue_start_each_policy_once_and_dedupe_channels() -> None:
    result = triage(CONFIG, labels(service="web"), MONDAY_NOON, [], [])
    assert result.outcome is TriageOutcome.ROUTED
    assert [(e.policy, e.route_path) for e in result.escalations] == [
        ("critical", "root/0"),
        ("web", "root/1"),
    ]
    # Each route's own group_wait decides when its escalation starts.
    assert result.escalations[0].due_at == MONDAY_NOON + timedelta(seconds=30)
    assert result.escalations[1].due_at == MONDAY_NOON
    assert [c.address for c in result.channels] == ["slack:#ops"]
    assert "escalation critical and escalation web" in result.detail


def test_a_silence_wins_and_names_itself() -> None:
    active = silence(
        "s-1", 'service="api"', MONDAY_NOON - timedelta(hours=1), MONDAY_NOON + timedelta(hours=1)
    )
    result = triage(CONFIG, labels(), MONDAY_NOON, [active], [])
    assert result.outcome is TriageOutcome.SILENCED
    assert result.silence_id == "s-1"
    assert result.detail == "silenced by s-1: deploy"
    assert result.escalations == () and result.channels == ()


def test_an_expired_or_unmatched_silence_does_not_mute() -> None:
    past = silence(
        "old", 'service="api"', MONDAY_NOON - timedelta(hours=2), MONDAY_NOON - timedelta(hours=1)
    )
    other = silence(
        "other", 'service="db"', MONDAY_NOON - timedelta(hours=1), MONDAY_NOON + timedelta(hours=1)
    )
    result = triage(CONFIG, labels(), MONDAY_NOON, [past, other], [])
    assert result.outcome is TriageOutcome.ROUTED


def test_inhibition_by_a_firing_source_with_equal_labels() -> None:
    target = labels(severity="warning", dc="eu1")
    down_eu = {"alertname": "DatacenterDown", "dc": "eu1", "severity": "critical"}
    down_us = {"alertname": "DatacenterDown", "dc": "us1", "severity": "critical"}
    assert triage(CONFIG, target, MONDAY_NOON, [], [down_us]).outcome is TriageOutcome.ROUTED
    result = triage(CONFIG, target, MONDAY_NOON, [], [down_us, down_eu])
    assert result.outcome is TriageOutcome.INHIBITED
    assert "dc=eu1" in result.detail


def test_time_intervals_mute_a_route_outside_its_window() -> None:
    warning = labels(severity="warning")
    assert triage(CONFIG, warning, MONDAY_NOON, [], []).outcome is TriageOutcome.ROUTED
    muted = triage(CONFIG, warning, SATURDAY_NOON, [], [])
    assert muted.outcome is TriageOutcome.TIME_MUTED
    assert "weekdays" in muted.detail and muted.route_path == "root/2"


def test_a_route_without_receiver_pages_nobody_and_says_so() -> None:
    result = triage(CONFIG, labels(severity="info"), MONDAY_NOON, [], [])
    assert result.outcome is TriageOutcome.UNROUTED
    assert result.detail.startswith("nobody is paged: route root")


def test_routing_labels_fill_in_severity_only_when_the_source_sent_none() -> None:
    assert routing_labels({"alertname": "x"}, "error", "api", "sentry") == {
        "alertname": "x",
        "severity": "error",
        "service": "api",
        "source": "sentry",
    }
    assert routing_labels({"severity": "page"}, "critical", "api", "am")["severity"] == "page"


# ------------------------------------------------------------------ escalation steps

POLICY = EscalationPolicy.model_validate(
    {
        "name": "ops",
        "repeat": 2,
        "steps": [
            {"notify": ["user:alice"], "wait": "5m"},
            {"notify": ["user:bob", "team:ops"], "wait": "10m"},
        ],
    }
)


def test_step_decisions_stop_on_ack_and_resolve() -> None:
    assert decide_step(POLICY, "ops", 0, 0, "acknowledged").kind is StepKind.STOP
    assert decide_step(POLICY, "ops", 0, 0, "resolved").reason == "incident resolved"
    gone = decide_step(None, "ops", 0, 0, "triggered")
    assert gone.kind is StepKind.STOP and "no longer configured" in gone.reason
    page = decide_step(POLICY, "ops", 1, 1, "triggered")
    assert page.kind is StepKind.PAGE
    assert page.targets == ("user:bob", "team:ops")
    assert page.label == "step 2 of 2 (pass 2 of 3)"
    assert decide_step(POLICY, "ops", 3, 0, "triggered").kind is StepKind.DONE


def test_a_muted_step_pauses_but_ack_resolve_and_an_exhausted_policy_still_end_it() -> None:
    muted = Triage(TriageOutcome.SILENCED, "silenced by s1: deploy", silence_id="s1")
    pause = decide_step(POLICY, "ops", 0, 1, "triggered", muted)
    assert (pause.kind, pause.reason) == (StepKind.PAUSE, "silenced by s1: deploy")
    assert (pause.pass_no, pause.step_no, pause.targets) == (0, 1, ())  # pages nobody
    assert pause.label == "step 2 of 2 (pass 1 of 3)"
    assert decide_step(POLICY, "ops", 0, 1, "acknowledged", muted).kind is StepKind.STOP
    assert decide_step(POLICY, "ops", 3, 0, "triggered", muted).kind is StepKind.DONE


def test_repeat_two_means_three_passes_with_waits_from_when_a_step_ran() -> None:
    now = MONDAY_NOON
    position: tuple[int, int] | None = (0, 0)
    visited = []
    while position is not None:
        visited.append(position)
        following = next_step(POLICY, *position, now, reached=True)
        if following is None:
            break
        wait = POLICY.steps[position[1]].wait
        assert following.due_at == now + wait
        now = following.due_at + timedelta(seconds=7)  # the worker ran a little late
        position = (following.pass_no, following.step_no)
    assert visited == [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]


def test_a_step_that_reached_nobody_does_not_wait() -> None:
    following = next_step(POLICY, 0, 0, MONDAY_NOON, reached=False)
    assert following is not None and following.due_at == MONDAY_NOON


@given(
    steps=st.integers(min_value=1, max_value=5),
    repeat=st.integers(min_value=0, max_value=4),
)
def test_every_step_of_every_pass_runs_exactly_once(steps: int, repeat: int) -> None:
    policy = EscalationPolicy.model_validate(
        {"name": "p", "repeat": repeat, "steps": [{"notify": ["user:a"], "wait": "1m"}] * steps}
    )
    position: tuple[int, int] | None = (0, 0)
    seen = []
    while position is not None:
        seen.append(position)
        following = next_step(policy, *position, MONDAY_NOON, reached=True)
        position = None if following is None else (following.pass_no, following.step_no)
    assert seen == [(p, s) for p in range(repeat + 1) for s in range(steps)]
    assert len(seen) == policy.step_count


def test_step_texts() -> None:
    label = step_label(POLICY, 0, 1)
    assert label == "step 2 of 2 (pass 1 of 3)"
    assert notification_step_text(label) == "step 2 of 2, pass 1 of 3"
    reach = [
        Recipient("user", "alice", "json://x/a1", "schedule:primary"),
        Recipient("user", "alice", "json://x/a2", "schedule:primary"),
        Recipient("channel", "ops", "slack:#ops", "team:ops"),
    ]
    assert describe_reach(reach) == (
        "paged alice via schedule:primary; notified team ops via team:ops"
    )
    assert describe_reach([]) == "nobody to page"


def test_dedup_keys_are_stable_and_never_hold_the_address() -> None:
    secret = "ntfy://user:s3cret@ntfy.example.org/topic"
    key = page_key(7, 1, 0, secret)
    assert key == page_key(7, 1, 0, secret)
    assert key != page_key(7, 1, 1, secret) != page_key(7, 2, 0, secret)
    assert "s3cret" not in key and "s3cret" not in channel_key(1, 1, secret)
    assert len(key) <= 200


def test_cancel_reasons() -> None:
    assert cancel_reason("page", "triggered") is None
    assert cancel_reason("page", "acknowledged") == "incident acknowledged before delivery"
    assert cancel_reason("channel", "acknowledged") is None
    assert cancel_reason("channel", "resolved") == "incident resolved before delivery"


# ------------------------------------------------------------------ delivery outcomes


def test_ok_is_sent_and_keeps_the_message_ref() -> None:
    applied = after_delivery(DeliveryResult.delivered("ok", "C1:171.1"), 0, MONDAY_NOON)
    assert applied.outcome == "sent"
    assert applied.values["status"] == "sent"
    assert applied.values["message_ref"] == "C1:171.1"
    assert applied.values["attempts"] == 1


def test_retryable_waits_for_the_backoff_and_the_far_sides_retry_after() -> None:
    applied = after_delivery(DeliveryResult.retryable("HTTP 500"), 0, MONDAY_NOON)
    assert applied.outcome == "retry" and "status" not in applied.values
    assert applied.values["next_attempt_at"] == MONDAY_NOON + timedelta(seconds=5)
    later = after_delivery(DeliveryResult.retryable("HTTP 500"), 2, MONDAY_NOON)
    assert later.values["next_attempt_at"] == MONDAY_NOON + timedelta(seconds=20)
    slow = after_delivery(
        DeliveryResult.retryable("429", retry_after=timedelta(seconds=90)), 0, MONDAY_NOON
    )
    assert slow.values["next_attempt_at"] == MONDAY_NOON + timedelta(seconds=90)
    jittered = after_delivery(
        DeliveryResult.retryable("HTTP 500"), 3, MONDAY_NOON, rng=random.Random(1)
    )
    wait = jittered.values["next_attempt_at"] - MONDAY_NOON
    assert timedelta(seconds=32) <= wait <= timedelta(seconds=40)


def test_permanent_or_out_of_attempts_fails() -> None:
    permanent = after_delivery(DeliveryResult.permanent("no such channel"), 0, MONDAY_NOON)
    assert permanent.outcome == "failed" and permanent.gave_up
    assert permanent.values["status"] == "failed"
    exhausted = after_delivery(DeliveryResult.retryable("timeout"), 2, MONDAY_NOON, max_attempts=3)
    assert exhausted.outcome == "failed" and exhausted.values["attempts"] == 3


# ------------------------------------------------------------------ the message


def _claimed(**row: Any) -> Claimed:
    incident = {
        "id": 42,
        "title": "High error rate",
        "severity": "critical",
        "service": "checkout",
        "status": "triggered",
        "alert_count": 2,
        "created_at": MONDAY_NOON,
        "updated_at": MONDAY_NOON,
        "group_labels": {"service": "checkout", "alertname": "HighErrorRate"},
        "acknowledged_by": None,
        "resolved_by": None,
    }
    alerts = [
        {
            "labels": {"instance": "node-7:9100"},
            "annotations": {"summary": "5xx above 5%", "runbook": "https://rb.example.org/5xx"},
            "title": "HighErrorRate",
            "status": "firing",
            "occurrences": 3,
            "first_seen": MONDAY_NOON - timedelta(minutes=30),
            "last_seen": MONDAY_NOON,
            "source_url": "http://prom/graph?1",
        },
        {
            "labels": {},
            "annotations": {},
            "title": "TypeError in checkout",
            "status": "resolved",
            "occurrences": 2,
            "first_seen": MONDAY_NOON - timedelta(minutes=10),
            "last_seen": MONDAY_NOON - timedelta(minutes=5),
            "source_url": "http://prom/graph?1",
        },
    ]
    base = {
        "kind": "page",
        "policy": "ops",
        "step": "step 1 of 2, pass 1 of 1",
        "recipient": "alice",
    }
    return Claimed({**base, **row}, incident, alerts)


def test_notification_carries_what_a_paged_person_needs() -> None:
    links = LinkSettings(public_url="https://fb.example.org", chat_command="/incident")
    n = notification_for(_claimed(), links)
    assert n.incident_id == 42 and n.occurrences == 5 and n.alert_count == 2
    assert n.first_seen == MONDAY_NOON - timedelta(minutes=30) and n.last_seen == MONDAY_NOON
    assert n.summaries == ["node-7:9100 5xx above 5%", "TypeError in checkout (resolved)"]
    assert n.runbook_url == "https://rb.example.org/5xx"
    assert n.source_urls == ["http://prom/graph?1"]
    assert n.recipient == "alice" and n.step == "step 1 of 2, pass 1 of 1"
    assert n.ack_hint == "/incident ack 42 or POST https://fb.example.org/api/v1/incidents/42/ack"
    assert n.incident_url == "https://fb.example.org/incidents/42"
    channel = notification_for(
        _claimed(kind="channel", recipient="", policy=None, step=None), links
    )
    assert channel.recipient is None


def test_ack_hint_without_chat_or_public_url() -> None:
    assert ack_hint(7, LinkSettings()) == "POST /api/v1/incidents/7/ack"


@pytest.mark.parametrize("bad", [{"severity": "disaster"}])
def test_a_row_that_cannot_become_a_message_raises_value_error(bad: dict[str, str]) -> None:
    claimed = _claimed()
    claimed.incident.update(bad)
    with pytest.raises(ValueError):
        notification_for(claimed, LinkSettings())
