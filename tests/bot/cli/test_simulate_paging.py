"""`firebell simulate` at an instant T: routes, silences, inhibitions and the paging plan,
computed by the server's own code on SQLite and PostgreSQL, with nothing written."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from bot.cli.simulate import run_simulation
from bot.cli.simulate_render import render_json, render_text
from bot.cli.simulate_report import AlertReport, EscalationPlan
from routing.muting import silence_store
from routing.muting.silence import Silence
from routing.storage.database import make_engine
from tests.support.paging import am_payload
from tests.support.simulate import (
    BEFORE_HANDOFF,
    BUSINESS_HOURS,
    CAROL_TOPIC,
    SATURDAY_EVENING,
    row_counts,
    seed,
    settings_for,
)

CRITICAL = am_payload("HighErrorRate", severity="critical", service="api")
WARNING = am_payload("HighLatency", severity="warning", service="api", summary="p99 over 2s")


def only_alert(database_url: str, body: bytes, at: datetime, **kw: str) -> AlertReport:
    sim = run_simulation(settings_for(database_url, **kw), "alertmanager", body, {}, at)
    assert sim.error is None
    assert len(sim.alerts) == 1
    return sim.alerts[0]


def who(plan: EscalationPlan) -> list[tuple[int, int, timedelta, dict[str, list[str]]]]:
    """(pass, step, offset from T, {target: names reached}) for every planned step."""
    return [
        (
            step.pass_no,
            step.step_no,
            step.after,
            {
                t.target: [r.name if r.kind == "user" else r.address for r in t.reaches]
                for t in step.targets
            },
        )
        for step in plan.steps
    ]


def test_critical_alert_routes_and_pages_across_the_weekly_handoff(database_url: str) -> None:
    alert = only_alert(database_url, CRITICAL, BEFORE_HANDOFF)

    # The critical route continues, so the api route matches too.
    assert [(r.path, r.config_path) for r in alert.routes] == [
        ("root/0", "route.routes.0"),
        ("root/2", "route.routes.2"),
    ]
    first, second = alert.routes
    assert first.escalation == "backend"
    assert first.channels == ("slack:#incidents",)
    assert first.matchers == ('severity="critical"', 'service=~"api|web"')
    assert first.muted_by_time is None
    assert second.escalation is None and second.channels == ("slack:#api-team",)
    assert alert.outcome == "routed"
    assert alert.silence is None and alert.inhibition is None
    assert alert.decision == "new" and alert.incident == "a new incident"
    assert alert.paging == "pages: escalation backend and 2 channel notices"

    (plan,) = alert.escalations
    assert plan.policy == "backend" and plan.route_path == "root/0"
    assert plan.started_at == BEFORE_HANDOFF
    channels = ["slack:#backend-alerts"]
    m = timedelta(minutes=1)
    # bob holds the week until Monday 09:00 Madrid; alice from then on.
    assert who(plan) == [
        (1, 1, 0 * m, {"schedule:backend-primary": ["bob"]}),
        (1, 2, 5 * m, {"user:carol": ["carol"], "team:backend": channels}),
        (2, 1, 15 * m, {"schedule:backend-primary": ["alice"]}),
        (2, 2, 20 * m, {"user:carol": ["carol"], "team:backend": channels}),
        (3, 1, 30 * m, {"schedule:backend-primary": ["alice"]}),
        (3, 2, 35 * m, {"user:carol": ["carol"], "team:backend": channels}),
    ]
    assert [s.due_at for s in plan.steps] == [BEFORE_HANDOFF + s.after for s in plan.steps]
    step1 = plan.steps[0].targets[0]
    assert step1.time_zone == "Europe/Madrid"
    assert step1.on_call == ("bob",)
    assert (
        step1.local_due is not None and step1.local_due.isoformat() == "2026-05-04T08:58:00+02:00"
    )
    bob = step1.reaches[0]
    # The user part of a URL can be a key (pushover://USERKEY@TOKEN): masked with the rest.
    assert bob.address == "mailto://***@example.com"
    assert bob.local_time is not None and bob.local_time.isoformat() == "2026-05-04T02:58:00-04:00"
    assert plan.steps[2].targets[0].on_call == ("alice",)
    assert "3 passes" in plan.end
    assert [(c.address, c.route_path, c.after) for c in alert.channels] == [
        ("slack:#incidents", "root/0", timedelta(0)),
        ("slack:#api-team", "root/2", timedelta(0)),
    ]


def test_weekend_layer_then_the_weekly_layer_when_it_ends(database_url: str) -> None:
    (plan,) = only_alert(database_url, CRITICAL, SATURDAY_EVENING).escalations
    on_call = [(s.pass_no, s.step_no, s.targets[0].on_call) for s in plan.steps if s.step_no == 1]
    # carol's weekend layer covers 09:00-21:00 Madrid; at 21:13 the weekly layer (alice) is back.
    assert on_call == [(1, 1, ("carol",)), (2, 1, ("alice",)), (3, 1, ("alice",))]
    # carol is paged through the schedule, and again by name in step 2: separate steps.
    assert plan.steps[0].targets[0].reaches[0].name == "carol"
    assert plan.steps[1].targets[0].reaches[0].name == "carol"


def test_a_step_that_reaches_nobody_does_not_wait(database_url: str) -> None:
    body = am_payload("QueueStuck", severity="error", service="desk")
    weekday = only_alert(database_url, body, BEFORE_HANDOFF)
    assert [r.path for r in weekday.routes] == ["root/3"]
    (plan,) = weekday.escalations
    empty, bob = plan.steps
    assert empty.targets[0].on_call == () and empty.targets[0].reaches == ()
    # As in the worker: waiting after an empty slot would page no one, so step 2 is due at once.
    assert (bob.after, [r.name for r in bob.targets[0].reaches]) == (timedelta(0), ["bob"])
    assert "-> nobody" in render_text(
        run_simulation(settings_for(database_url), "alertmanager", body, {}, BEFORE_HANDOFF)
    )

    (weekend,) = only_alert(database_url, body, SATURDAY_EVENING).escalations
    assert [(s.after, s.targets[0].reaches[0].name) for s in weekend.steps] == [
        (timedelta(0), "carol"),
        (timedelta(minutes=10), "bob"),
    ]
    assert "1 pass" in weekend.end


def test_group_wait_delays_every_step(database_url: str) -> None:
    alert = only_alert(database_url, CRITICAL, BEFORE_HANDOFF, group_wait="30s")
    (plan,) = alert.escalations
    assert alert.routes[0].group_wait == timedelta(seconds=30)
    assert [s.after for s in plan.steps][:3] == [
        timedelta(seconds=30),
        timedelta(minutes=5, seconds=30),
        timedelta(minutes=15, seconds=30),
    ]
    # 08:58:30 Madrid is still before the hand-off: bob takes the first page.
    assert plan.steps[0].targets[0].on_call == ("bob",)
    assert alert.channels[0].after == timedelta(seconds=30)


def test_warning_outside_business_hours_is_muted_by_its_time_interval(database_url: str) -> None:
    alert = only_alert(database_url, WARNING, BEFORE_HANDOFF)
    (route,) = alert.routes  # the warning route does not continue: the api route is not reached
    assert route.path == "root/1"
    assert route.active_time_intervals == ("business-hours",)
    assert route.muted_by_time == "outside active_time_intervals: business-hours"
    assert alert.outcome == "time_muted"
    assert alert.escalations == () and alert.channels == ()
    assert alert.paging.startswith("no page: muted by time")

    inside = only_alert(database_url, WARNING, BUSINESS_HOURS)
    assert inside.routes[0].muted_by_time is None
    assert inside.outcome == "routed"
    assert [c.address for c in inside.channels] == ["discord:987654321098765432"]
    assert inside.escalations == ()


def test_a_database_silence_shows_as_the_muting_silence(database_url: str) -> None:
    settings = settings_for(database_url)
    engine = make_engine(database_url)
    with engine.begin() as conn:
        stored = silence_store.create(
            conn,
            Silence(
                matchers=['alertname="HighLatency"', 'service="api"'],
                starts_at=BUSINESS_HOURS - timedelta(minutes=10),
                ends_at=BUSINESS_HOURS + timedelta(hours=2),
                created_by="alice",
                comment="deploying the new cache",
            ),
            BUSINESS_HOURS - timedelta(minutes=10),
        )
    engine.dispose()

    alert = run_simulation(settings, "alertmanager", WARNING, {}, BUSINESS_HOURS).alerts[0]
    assert alert.outcome == "silenced"
    assert alert.silence is not None
    assert alert.silence.id == stored.id
    assert alert.silence.origin == "database"
    assert alert.silence.matchers == ('alertname="HighLatency"', 'service="api"')
    assert alert.silence.created_by == "alice"
    assert alert.silence.until == BUSINESS_HOURS + timedelta(hours=2)
    assert alert.paging == f"no page: silenced by {stored.id}: deploying the new cache"
    assert alert.channels == () and alert.escalations == ()

    # --at moves the whole simulation: after the silence ends, the warning posts again.
    later = run_simulation(
        settings, "alertmanager", WARNING, {}, BUSINESS_HOURS + timedelta(hours=3)
    ).alerts[0]
    assert later.silence is None and later.outcome == "routed"


def test_a_firing_critical_in_the_database_inhibits_a_warning(database_url: str) -> None:
    settings = settings_for(database_url)
    seed(settings, CRITICAL, BUSINESS_HOURS - timedelta(minutes=3))

    alert = run_simulation(settings, "alertmanager", WARNING, {}, BUSINESS_HOURS).alerts[0]
    assert alert.outcome == "inhibited"
    assert alert.inhibition is not None
    assert alert.inhibition.source_matchers == ('severity="critical"',)
    assert alert.inhibition.target_matchers == ('severity="warning"',)
    assert alert.inhibition.equal == ("service",)
    assert alert.inhibition.source_alert["alertname"] == "HighErrorRate"
    assert alert.inhibition.source_alert["service"] == "api"
    assert alert.paging.startswith("no page: inhibited by firing alert service=api")
    assert alert.channels == ()

    # `equal: [service]`: a warning for another service is not inhibited.
    other = am_payload("HighLatency", severity="warning", service="web")
    assert run_simulation(settings, "alertmanager", other, {}, BUSINESS_HOURS).alerts[
        0
    ].outcome == ("routed")


def test_a_critical_in_the_same_payload_inhibits_its_warning(database_url: str) -> None:
    critical = json.loads(CRITICAL)
    warning = json.loads(WARNING)
    critical["alerts"] += warning["alerts"]
    sim = run_simulation(
        settings_for(database_url),
        "alertmanager",
        json.dumps(critical).encode(),
        {},
        BUSINESS_HOURS,
    )
    assert [a.outcome for a in sim.alerts] == ["routed", "inhibited"]


def test_repeats_and_alerts_joining_a_paging_incident_page_nobody_new(database_url: str) -> None:
    settings = settings_for(database_url)
    seed(settings, CRITICAL, BEFORE_HANDOFF - timedelta(minutes=1))

    repeat = run_simulation(settings, "alertmanager", CRITICAL, {}, BEFORE_HANDOFF).alerts[0]
    assert repeat.decision == "repeat" and repeat.incident == "incident #1"
    assert repeat.incident_id == 1
    assert (
        repeat.paging == "a repeat of an alert already open in incident #1: nothing is paged again"
    )
    assert repeat.escalations == ()
    # What would route it is still shown.
    assert [r.path for r in repeat.routes] == ["root/0", "root/2"]

    sibling = am_payload(
        "HighErrorRate", severity="critical", service="api", instance="node-8:9100"
    )
    joined = run_simulation(settings, "alertmanager", sibling, {}, BEFORE_HANDOFF).alerts[0]
    assert joined.decision == "new" and joined.incident == "incident #1"
    assert joined.outcome == "routed"
    assert joined.paging == "incident #1 is already paging for this route: nothing new is paged"
    assert joined.escalations == () and joined.channels == ()


def test_dedup_decision_runs_at_t(database_url: str) -> None:
    settings = settings_for(database_url)
    seed(settings, CRITICAL, BEFORE_HANDOFF)
    resolved = am_payload("HighErrorRate", severity="critical", service="api", status="resolved")
    seed(settings, resolved, BEFORE_HANDOFF + timedelta(minutes=1))

    soon = run_simulation(
        settings, "alertmanager", CRITICAL, {}, BEFORE_HANDOFF + timedelta(minutes=5)
    )
    assert soon.alerts[0].decision == "reopen"  # within the 30m reopen window
    assert soon.alerts[0].escalations  # the reopened incident pages again (a new round)
    late = run_simulation(
        settings, "alertmanager", CRITICAL, {}, BEFORE_HANDOFF + timedelta(hours=2)
    )
    assert late.alerts[0].decision == "new" and late.alerts[0].incident == "a new incident"


def test_resolve_stops_the_escalation(database_url: str) -> None:
    settings = settings_for(database_url)
    seed(settings, CRITICAL, BEFORE_HANDOFF)
    resolved = am_payload("HighErrorRate", severity="critical", service="api", status="resolved")
    alert = run_simulation(settings, "alertmanager", resolved, {}, BEFORE_HANDOFF).alerts[0]
    assert alert.decision == "resolve"
    assert alert.outcome is None and alert.silence is None
    assert alert.paging == "resolves incident #1: its escalations stop, nothing is paged"


def test_the_database_is_unchanged(database_url: str) -> None:
    settings = settings_for(database_url)
    seed(settings, CRITICAL, BEFORE_HANDOFF - timedelta(hours=1))
    engine = make_engine(database_url)
    with engine.begin() as conn:
        silence_store.create(
            conn,
            Silence(
                matchers=['service="web"'],
                starts_at=BEFORE_HANDOFF - timedelta(hours=1),
                ends_at=BEFORE_HANDOFF + timedelta(hours=1),
                created_by="bob",
            ),
            BEFORE_HANDOFF - timedelta(hours=1),
        )
    engine.dispose()
    before = row_counts(database_url)
    assert before["alert"] == 1 and before["escalation"] == 1 and before["silence"] == 1

    critical = json.loads(CRITICAL)
    for body in (WARNING, am_payload("Other", service="web"), am_payload("New", service="api")):
        critical["alerts"] += json.loads(body)["alerts"]
    sim = run_simulation(
        settings, "alertmanager", json.dumps(critical).encode(), {}, BEFORE_HANDOFF
    )
    assert [a.decision for a in sim.alerts] == ["repeat", "new", "new", "new"]
    assert [a.outcome for a in sim.alerts] == ["routed", "inhibited", "silenced", "routed"]
    assert sim.alerts[3].escalations  # a new incident: paging would start

    assert row_counts(database_url) == before


def test_text_output_is_aligned_and_json_says_the_same(database_url: str) -> None:
    sim = run_simulation(settings_for(database_url), "alertmanager", CRITICAL, {}, BEFORE_HANDOFF)
    text = render_text(sim)
    lines = text.splitlines()
    assert "at (T)       Mon 2026-05-04 06:58 UTC  (nothing is written)" in lines
    assert "  decision     new" in lines
    assert any(line.startswith("  route        root/0  (route.routes.0)") for line in lines)
    assert "               receiver  escalation backend; channels slack:#incidents" in lines
    assert "    T+15m    Mon 2026-05-04 07:13 UTC   pass 2, step 1" in lines
    assert any(
        "schedule:backend-primary   Mon 09:13 CEST (Europe/Madrid)   on call: alice" in line
        for line in lines
    )
    assert "{" not in text.replace('{"alertname":"HighErrorRate","service":"api"}', "")
    # Contacts can carry tokens in their path: they are masked in both forms.
    assert CAROL_TOPIC not in text
    assert "ntfy://ntfy.example.com/***" in text

    data = json.loads(render_json(sim))
    assert CAROL_TOPIC not in json.dumps(data)
    assert data["at"] == "2026-05-04T06:58:00+00:00"
    (alert,) = data["alerts"]
    assert [r["path"] for r in alert["routes"]] == ["root/0", "root/2"]
    steps = alert["escalations"][0]["steps"]
    assert [(s["pass_no"], s["step_no"], s["after"], s["due_at"]) for s in steps[:3]] == [
        (1, 1, "0s", "2026-05-04T06:58:00+00:00"),
        (1, 2, "5m", "2026-05-04T07:03:00+00:00"),
        (2, 1, "15m", "2026-05-04T07:13:00+00:00"),
    ]
    assert steps[0]["targets"][0]["on_call"] == ["bob"]
    assert steps[0]["targets"][0]["local_due"] == "2026-05-04T08:58:00+02:00"
