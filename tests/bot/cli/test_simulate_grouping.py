"""`firebell simulate` shows how an alert would be grouped (same group, correlation within
grouping.correlate_within, or a new incident) and the route settings grouping takes:
group_by from the first matching route, group_wait from `grouping` on the root."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from bot.cli.simulate import run_simulation
from bot.cli.simulate_render import render_json, render_text
from bot.cli.simulate_report import AlertReport
from bot.config import Settings, parse_config
from bot.runtime.state import ingest_policy
from integrations.sources import SOURCES, SourceOptions
from routing.intake.ingest import ingest
from routing.intake.submission import Submission
from routing.storage.database import make_engine
from tests.support.paging import am_payload
from tests.support.webhook_payloads import sentry_issue

T = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


def settings(database_url: str, grouping: str = "{}", route: str = "{}") -> Settings:
    text = f"""
database_url: "{database_url}"
users: [{{name: alice, contacts: ["json://127.0.0.1:9/alice"]}}]
escalation_policies: [{{name: ops, steps: [{{notify: ["user:alice"]}}]}}]
sources: {{sentry: {{services: {{backend: checkout}}}}}}
grouping: {grouping}
route: {route}
"""
    return parse_config(text, {})


def seed_sentry_issue(config: Settings, at: datetime) -> None:
    body = sentry_issue("created")
    headers = {"Sentry-Hook-Resource": "issue"}
    options = SourceOptions(services=dict(config.sources.sentry.services))
    alerts = SOURCES["sentry"].parse(body, headers, options).alerts
    engine = make_engine(config.database_url)
    try:
        with engine.begin() as conn:
            ingest(conn, [Submission("sentry", alerts, body)], at, ingest_policy(config))
    finally:
        engine.dispose()


def simulate(config: Settings, body: bytes, at: datetime) -> AlertReport:
    sim = run_simulation(config, "alertmanager", body, {}, at)
    assert sim.error is None, sim.error
    [alert] = sim.alerts
    return alert


def test_simulate_shows_correlation_within_the_window_and_a_new_incident_after(
    database_url: str,
) -> None:
    config = settings(database_url, grouping="{correlate_within: 10m}")
    seed_sentry_issue(config, T)
    body = am_payload("HighErrorRate", service="checkout")

    within = simulate(config, body, T + timedelta(minutes=9))
    assert within.incident == "incident #1"
    assert within.grouping == (
        "joined incident #1 by correlation: service checkout, it holds alerts of sentry and "
        "gained one 9m ago (grouping.correlate_within 10m)"
    )
    text = render_text(run_simulation(config, "alertmanager", body, {}, T + timedelta(minutes=9)))
    assert "grouping" in text and "by correlation: service checkout" in text

    after = simulate(config, body, T + timedelta(minutes=11))
    assert after.incident == "a new incident"
    assert after.grouping.startswith("opened an incident: no open incident has group alertmanager")
    sim = run_simulation(config, "alertmanager", body, {}, T + timedelta(minutes=11))
    assert json.loads(render_json(sim))["alerts"][0]["grouping"] == after.grouping


def test_simulate_groups_by_the_first_matching_routes_group_by(database_url: str) -> None:
    route = "{routes: [{matchers: ['service=\"checkout\"'], group_by: [service]}]}"
    config = settings(database_url, grouping="{group_by: [service, alertname]}", route=route)
    checkout = simulate(config, am_payload("Disk", service="checkout"), T)
    assert checkout.group_key == 'alertmanager {"service":"checkout"}'
    assert checkout.routes[0].group_by == ("service",)
    # Elsewhere the root route, whose group_by is grouping.group_by.
    other = simulate(config, am_payload("Disk", service="web"), T)
    assert other.group_key == 'alertmanager {"alertname":"Disk","service":"web"}'
    only_service = settings(database_url, grouping="{group_by: [service]}")
    assert simulate(only_service, am_payload("Disk", service="web"), T).group_key == (
        'alertmanager {"service":"web"}'
    )


def test_grouping_group_wait_is_the_root_routes_group_wait(database_url: str) -> None:
    route = "{receiver: {escalation: ops}}"
    waiting = settings(database_url, grouping="{group_wait: 30s}", route=route)
    alert = simulate(waiting, am_payload("Disk"), T)
    assert alert.routes[0].group_wait == timedelta(seconds=30)
    [plan] = alert.escalations
    assert plan.steps[0].after == timedelta(seconds=30)
    # A route's own group_wait still wins over the default.
    own = "{receiver: {escalation: ops}, group_wait: 5s}"
    alert = simulate(settings(database_url, "{group_wait: 30s}", own), am_payload("Disk"), T)
    assert alert.escalations[0].steps[0].after == timedelta(seconds=5)
