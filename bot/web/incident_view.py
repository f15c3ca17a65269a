"""What the incident page shows, section by section: each loader reads only its own
section's rows, so a live refresh of one section (`?section=timeline`) costs one small
read. The same service functions as the API and chat are called (routing.response,
playbooks.service); nothing here writes.

Never shown: contact addresses (only the names of who was paged), connection URLs or
credentials (playbooks are shown by id, params and step actions; run requests come
from the store already redacted).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection

from bot.config.identities import Principal
from bot.runtime.state import Runtime
from playbooks import approval_rules, approvals_service
from playbooks.service import PlaybookRefused, PlaybookService
from routing.response import incident_detail, incidents

SECTIONS = ("status", "alerts", "timeline", "escalation", "playbooks", "runs", "approvals")
# What each section listens to on the live stream (bot.web.live topics).
SECTION_TOPICS = {
    "status": "incidents",
    "alerts": "incidents",
    "timeline": "incidents",
    "escalation": "incidents",
    "playbooks": "runs",
    "runs": "runs",
    "approvals": "runs",
}
RUNS_SHOWN = 20
OUTPUT_SHOWN = 20_000  # characters of a step's output on the page (the API has it all)


def safe_link(url: str | None) -> str | None:
    """A source link only when it is plain http(s): a `javascript:` or `data:` URL from an
    alert's payload must never become a clickable link."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def playbook_service(rt: Runtime) -> PlaybookService | None:
    found: PlaybookService | None = rt.extras.get("playbook_service")
    return found


def _times(item: dict[str, Any], *names: str) -> dict[str, Any]:
    """The item with its ISO 8601 times (as the API gives them) as datetimes again."""
    return {**item, **{n: datetime.fromisoformat(item[n]) for n in names if item.get(n)}}


def load_status(conn: Connection, incident_id: int) -> dict[str, Any]:
    """The incident row (IncidentNotFound when there is none)."""
    item = incidents.get_incident(conn, incident_id, details=False)
    return _times(item, "created_at", "updated_at", "acknowledged_at", "resolved_at")


def load_alerts(conn: Connection, incident_id: int, now: datetime) -> list[dict[str, Any]]:
    flt = incidents.AlertFilter(incident_id=incident_id, limit=1000, now=now)
    times = ("first_seen", "last_seen", "starts_at", "resolved_at", "flapping_until")
    return [
        {**_times(alert, *times), "link": safe_link(alert["source_url"])}
        for alert in incidents.list_alerts(conn, flt)
    ]


def load_timeline(
    conn: Connection,
    incident_id: int,
    *,
    before: int | None = None,
    since: int | None = None,
    extend: int | None = None,
) -> incident_detail.TimelinePage:
    """`extend`: the oldest id the page shows; the next older page is added below it."""
    if extend is not None:
        below = incident_detail.timeline_page(conn, incident_id, before=extend)
        since = below.since if below.entries else extend
    return incident_detail.timeline_page(conn, incident_id, before=before, since=since)


def load_escalation(
    conn: Connection, rt: Runtime, incident_id: int, now: datetime
) -> list[dict[str, Any]]:
    policies = rt.settings.escalation_policies_by_name
    return incident_detail.load_escalations(conn, incident_id, policies, now)


def load_playbooks(rt: Runtime, incident_id: int) -> list[dict[str, Any]]:
    """The catalog's playbooks matching the incident, with their params as form fields."""
    service = playbook_service(rt)
    if service is None:
        return []
    shown = []
    for playbook in service.matching(incident_id):
        spec = playbook.spec
        params = [
            {
                "name": name,
                "type": param.type,
                "description": param.description,
                "default": "" if param.default is None else str(param.default),
                "required": param.default is None,
                "choices": param.choices or [],
                "limits": ", ".join(
                    f"{k} {v}" for k, v in (("min", param.min), ("max", param.max)) if v is not None
                ),
            }
            for name, param in spec.params.items()
        ]
        shown.append(
            {
                "id": spec.id,
                "description": spec.description,
                "run": spec.run,
                "params": params,
                "steps": [{"id": s.id, "uses": s.uses, "approval": s.approval is not None}
                          for s in spec.steps],
            }
        )  # fmt: skip
    return shown


def load_runs(rt: Runtime, incident_id: int) -> list[dict[str, Any]]:
    """The incident's runs, newest first, each step with its stored output (clipped)."""
    service = playbook_service(rt)
    if service is None:
        return []
    runs = service.runs(incident_id, RUNS_SHOWN)
    for run in runs:
        try:
            outputs = {o["step_id"]: o for o in service.outputs(run["id"])}
        except PlaybookRefused:
            outputs = {}
        for step in run["steps"]:
            found = outputs.get(step["step_id"])
            text = found["text"] if found else ""
            step["output"] = text[-OUTPUT_SHOWN:]
            step["output_clipped"] = len(text) > OUTPUT_SHOWN
            step["cut_lines"] = found["cut_lines"] if found else 0
            step["remote_link"] = safe_link(step.get("remote_url"))
    return runs


def load_approvals(
    rt: Runtime, runs: list[dict[str, Any]], viewer: Principal, now: datetime
) -> list[dict[str, Any]]:
    """Steps awaiting approval in the incident's runs: who may decide, and whether the
    viewer may (and if not, the reason the service would give)."""
    service = playbook_service(rt)
    if service is None:
        return []
    waiting = []
    for run in runs:
        for step in run["steps"]:
            if step["status"] != approvals_service.AWAITING:
                continue
            try:
                rule = approvals_service.approval_of(service.catalog, run, step)
            except approvals_service.ApprovalRefused as exc:
                waiting.append(_gate(run, step, None, False, exc.message))
                continue
            who = approval_rules.who_may_approve(rule, run["started_by"], rt.settings, now)
            ok, reason = approval_rules.permitted(
                viewer.user, rule, run["started_by"], now, rt.settings
            )
            waiting.append(_gate(run, step, who, ok, reason, rule.required))
    return waiting


def _gate(
    run: Mapping[str, Any],
    step: Mapping[str, Any],
    who: str | None,
    may: bool,
    reason: str,
    required: int = 1,
) -> dict[str, Any]:
    return {
        "run_id": run["id"],
        "playbook": run["playbook"],
        "started_by": run["started_by"],
        "step_id": step["step_id"],
        "uses": step["uses"],
        "request": step["request"],
        "expires_at": step["approval_expires_at"],
        "who": who,
        "required": required,
        "may": may,
        "reason": reason,
    }


def section_context(
    rt: Runtime,
    incident_id: int,
    viewer: Principal,
    names: tuple[str, ...] = SECTIONS,
    timeline_args: Mapping[str, int | None] | None = None,
) -> dict[str, Any]:
    """The template context for the named sections (IncidentNotFound when there is no
    such incident). `incident` is always loaded: every section names it."""
    now = rt.clock()
    context: dict[str, Any] = {"incident_id": incident_id, "sections": names}
    with rt.read_engine.connect() as conn:
        context["incident"] = load_status(conn, incident_id)
        if "alerts" in names:
            context["alerts"] = load_alerts(conn, incident_id, now)
        if "timeline" in names:
            context["timeline"] = load_timeline(conn, incident_id, **(timeline_args or {}))
            context["timeline_older_view"] = bool((timeline_args or {}).get("before"))
        if "escalation" in names:
            context["escalations"] = load_escalation(conn, rt, incident_id, now)
    if "playbooks" in names:
        context["playbooks"] = load_playbooks(rt, incident_id)
        context["playbooks_configured"] = playbook_service(rt) is not None
    if "runs" in names or "approvals" in names:
        runs = load_runs(rt, incident_id)
        context["runs"] = runs
        context["approvals"] = load_approvals(rt, runs, viewer, now)
    return context
