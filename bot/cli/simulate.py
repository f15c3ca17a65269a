"""`firebell simulate`: run a payload through the server's own ingest and paging code at an
instant T, in a transaction that is rolled back, and describe every decision.

Nothing here decides anything itself: dedup and grouping are routing.intake.ingest, routing,
silences and inhibition are routing.paging.triage.triage on the labels escalation_store
prepares, and the escalation plan walks the worker's own step functions (decide_step,
step_recipients, next_step). This module parses the payload and runs ingest and paging in the
rolled-back transaction; simulate_alert and simulate_paging collect the answers into the
report (simulate_report) and simulate_render prints it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection, Table, func, select

from bot.cli.simulate_alert import AlertExplainer, is_firing
from bot.cli.simulate_paging import PagingPlanner
from bot.cli.simulate_playbooks import playbook_reports
from bot.cli.simulate_render import render_json, render_text
from bot.cli.simulate_report import AlertReport, Simulation
from bot.config import Settings
from bot.runtime.state import ingest_policy
from integrations.sources import SOURCES, PayloadError
from routing.intake.alert import Alert
from routing.intake.ingest import ingest
from routing.intake.submission import IncidentEventKind, Submission
from routing.paging.escalation_store import (
    ESCALATION,
    INCIDENT,
    NOTIFICATION,
    firing_labels,
    start_paging,
)
from routing.paging.silences_in_force import all_silences
from routing.paging.triage import routing_labels
from routing.storage.database import is_sqlite, make_engine
from routing.storage.migrate import upgrade


def run_simulation(
    settings: Settings,
    source: str,
    body: bytes,
    headers: Mapping[str, str],
    at: datetime,
    *,
    dry_run_playbooks: bool = False,
) -> Simulation:
    """Everything the server would decide for this payload at `at`; writes nothing. With
    `dry_run_playbooks`, what each matching playbook would send (nothing is sent)."""
    at = at.astimezone(UTC)
    if source not in SOURCES:
        return Simulation(
            source, at, error=f"unknown source {source!r}; known: {', '.join(sorted(SOURCES))}"
        )
    try:
        result = SOURCES[source].parse(body, headers, settings.source_options(source))
    except PayloadError as exc:
        return Simulation(
            source, at, error=f"payload rejected ({exc.status_code}): {exc.field}: {exc.message}"
        )
    if is_sqlite(settings.database_url):
        upgrade(settings.database_url)
    engine = make_engine(settings.database_url, timeouts=settings.database.postgres_timeouts())
    try:
        with engine.connect() as conn:
            transaction = conn.begin()
            try:
                reports, touched = _decide(conn, settings, source, result.alerts, at)
                playbooks = playbook_reports(conn, settings, touched, at, dry_run_playbooks)
            finally:
                transaction.rollback()  # simulate never writes
    finally:
        engine.dispose()
    return Simulation(
        source,
        at,
        parsed=len(result.alerts),
        note=result.note,
        unparsed=result.unparsed,
        alerts=tuple(reports),
        playbooks=playbooks,
    )


def _max_id(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one())


def _decide(
    conn: Connection, settings: Settings, source: str, alerts: Sequence[Alert], at: datetime
) -> tuple[list[AlertReport], dict[int, bool]]:
    """Ingest and start paging exactly as the server's writer does, then read back what
    that wrote (inside the transaction the caller rolls back); with the incidents the
    alerts joined (id -> whether this payload opened it)."""
    outcome = ingest(conn, [Submission(source, alerts)], at, ingest_policy(settings))
    last_escalation, last_notification = _max_id(conn, ESCALATION), _max_id(conn, NOTIFICATION)
    # start_paging is the intake hook the server runs in this same ingest transaction.
    triaged = {
        (event.incident_id, event.fingerprint): result
        for event, result in start_paging(conn, outcome.incident_events, at, settings)
    }
    started = {
        (row.incident_id, row.policy): row
        for row in conn.execute(select(ESCALATION).where(ESCALATION.c.id > last_escalation))
    }
    noticed = {
        (row.incident_id, row.address): row
        for row in conn.execute(
            select(NOTIFICATION).where(
                NOTIFICATION.c.id > last_notification, NOTIFICATION.c.kind == "channel"
            )
        )
    }
    incident_ids = {d.incident_id for d in outcome.submissions[0].alerts if d.incident_id}
    status: dict[int, str] = dict(
        conn.execute(
            select(INCIDENT.c.id, INCIDENT.c.status).where(INCIDENT.c.id.in_(incident_ids))
        ).all()
    )
    events = outcome.incident_events
    opened = {e.incident_id for e in events if e.kind is IncidentEventKind.OPENED}
    resolved = {e.incident_id for e in events if e.kind is IncidentEventKind.RESOLVED}
    labels = [routing_labels(dict(a.labels), a.severity.value, a.service, a.source) for a in alerts]
    silences = all_silences(conn, settings, at)
    firing = firing_labels(
        conn, settings, [lab for a, lab in zip(alerts, labels, strict=True) if is_firing(a)]
    )
    paging = PagingPlanner(settings, at, started, noticed)
    context = AlertExplainer(settings, at, silences, firing, triaged, paging)
    reports = [
        context.report(alert, decided, alert_labels, opened, resolved, status)
        for alert, decided, alert_labels in zip(
            alerts, outcome.submissions[0].alerts, labels, strict=True
        )
    ]
    return reports, {incident_id: incident_id in opened for incident_id in incident_ids}


def simulate(
    settings: Settings,
    source: str,
    body: bytes,
    headers: Mapping[str, str],
    at: datetime,
    *,
    as_json: bool = False,
) -> str:
    sim = run_simulation(settings, source, body, headers, at)
    return render_json(sim) if as_json else render_text(sim)
