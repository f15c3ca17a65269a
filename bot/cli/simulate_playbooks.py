"""`firebell simulate`'s playbooks: which playbooks match each incident the payload would
open or join and, with `--dry-run-playbooks`, what each would send.

Runs inside simulate's rolled-back transaction, after ingest: the incident a payload
would open exists there, so playbooks.incident_view reads it exactly as a real run would
(labels, sentry_issue_id). The dry-run is playbooks.dry_run's pure plan: nothing is sent,
nothing is recorded (the timeline entry a real dry-run writes would be rolled back).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from bot.cli.playbook_text import dry_run_lines
from bot.cli.simulate_report import PlaybookReport
from bot.config import Settings
from playbooks.catalog import Catalog
from playbooks.dry_run import plan_steps
from playbooks.incident_view import incident_view
from playbooks.model import Playbook
from playbooks.params import ParamError, resolve_params

SIMULATE_ACTOR = "simulate"


def playbook_reports(
    conn: Connection,
    settings: Settings,
    touched: Mapping[int, bool],
    at: datetime,
    dry_run: bool,
) -> tuple[PlaybookReport, ...]:
    """For each incident (id -> whether this payload opens it), the matching playbooks."""
    catalog = settings.catalog
    if not catalog.playbooks:
        return ()
    reports = []
    for incident_id, opens in sorted(touched.items()):
        view = incident_view(conn, incident_id, settings.public_url)
        if view is None:
            continue
        where = "a new incident" if opens else f"incident #{incident_id}"
        for playbook in sorted(catalog.matching(view["labels"]), key=lambda p: p.id):
            on_open = playbook.spec.run == "on_open"
            if on_open and opens:
                starts = "starts now: run on_open, and this payload opens the incident"
            elif on_open:
                starts = "does not start: run on_open, and the incident is already open"
            else:
                starts = "manual: /incident run, firebell playbook run or the API"
            report = PlaybookReport(where, playbook.id, playbook.spec.run, starts)
            if dry_run:
                report = _with_dry_run(report, playbook, catalog, view, at)
            reports.append(report)
    return tuple(reports)


def _with_dry_run(
    report: PlaybookReport,
    playbook: Playbook,
    catalog: Catalog,
    view: dict[str, Any],
    at: datetime,
) -> PlaybookReport:
    try:
        params = resolve_params(playbook.spec.params, {})
    except ParamError as exc:  # a required param: a run names it, so would a dry-run
        return replace(report, note=f"needs params.{exc.name}: {exc.message}")
    plans = plan_steps(playbook, catalog, view, params, SIMULATE_ACTOR, at)
    return replace(report, params=params, steps=tuple(plan.shown() for plan in plans))


def playbook_text(reports: tuple[PlaybookReport, ...]) -> list[str]:
    """The playbooks section of simulate's text output."""
    if not reports:
        return []
    lines = ["", "== playbooks " + "=" * 65]
    for report in reports:
        lines.append(f"  {report.playbook:<20} on {report.incident}: {report.starts}")
        if report.note:
            lines.append(f"    ({report.note})")
        if report.steps is not None:
            result = {
                "playbook": report.playbook,
                "incident_id": report.incident,
                "params": report.params or {},
                "steps": report.steps,
                "sent": 0,
            }
            lines += dry_run_lines(result, indent=2)[1:]
    return lines
