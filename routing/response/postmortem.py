"""A postmortem of one incident (pure): the document as data (render_markdown renders it).

The caller reads the incident (with its alerts and timeline), the pages sent for it and
its playbook runs with their approvals (the playbooks package reads those: routing
cannot import it), and passes them in as plain data with the instant and the configured
secrets. Every string in the document is scrubbed of those secrets; pages carry who was
paged and how (the schedule, the step), never the address. In Markdown, text that came
from outside (titles, labels, notes, outputs) is escaped: it cannot start a heading,
break a table row, open a link or raw HTML (routing.response.postmortem_markdown).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from routing.basics.redact import REDACTED
from routing.response.postmortem_markdown import human_duration
from routing.response.postmortem_markdown import render_markdown as render_markdown

MAX_TIMELINE = 20_000  # entries; a storm's incident says how many more there were
MAX_TEXT = 4000  # characters of any one string (a step's output excerpt is the longest)
MAX_LABELS = 30
CAUSES_PROMPT = (
    "What made this happen? The trigger, the underlying causes, and why they were "
    "not caught earlier."
)
ACTIONS_PROMPT = (
    "What will we change so it does not happen again, or is found and fixed faster? "
    "One line each: the action, its owner, its due date."
)


def _time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _iso(value: Any) -> str | None:
    when = _time(value)
    return when.isoformat() if when else None


def _seconds(later: datetime | None, earlier: datetime | None) -> float | None:
    if later is None or earlier is None:
        return None
    return max(0.0, (later - earlier).total_seconds())


class _Scrub:
    """Replaces every configured secret (longest first) in the document's strings."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            for secret in self.secrets:
                value = value.replace(secret, REDACTED)
            # Cut after replacing: a secret across the cut would leave its first half.
            return value[:MAX_TEXT]
        if isinstance(value, Mapping):
            return {self(str(k))[:200]: self(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self(v) for v in value]
        return value


def build_postmortem(
    incident: Mapping[str, Any],
    pages: Sequence[Mapping[str, Any]],
    runs: Sequence[Mapping[str, Any]],
    *,
    now: datetime,
    secrets: Iterable[str] = (),
    link: str | None = None,
) -> dict[str, Any]:
    """The postmortem document.

    `incident`: routing.response.incidents.get_incident (with `alerts`, `timeline`).
    `pages`: the pages sent (recipient, via, step, status, created_at, sent_at).
    `runs`: playbook runs (id, playbook, status, trigger, started_by, created_at,
    finished_at, `steps` with step_id, uses, status, started_at, finished_at, summary,
    error, excerpt; `approvals` with step_id, approver, decision, surface, at, comment).
    """
    scrub = _Scrub(secrets)
    opened = _time(incident["created_at"])
    acked = _time(incident.get("acknowledged_at"))
    resolved = _time(incident.get("resolved_at")) if incident["status"] == "resolved" else None
    alerts = list(incident.get("alerts", []))
    first_alert = min((t for a in alerts if (t := _time(a.get("first_seen")))), default=opened)
    start = min(first_alert, opened) if first_alert and opened else opened
    timeline = list(incident.get("timeline", []))
    shown = timeline[:MAX_TIMELINE]
    doc = {
        "incident": {
            name: incident.get(name)
            for name in ("id", "title", "status", "severity", "service", "alert_count")
        }
        | {
            "created_at": _iso(opened),
            "acknowledged_at": _iso(acked),
            "acknowledged_by": incident.get("acknowledged_by"),
            "resolved_at": _iso(resolved),
            "resolved_by": incident.get("resolved_by") if resolved else None,
            "link": link,
        },
        "title": f"Postmortem: incident #{incident['id']}: {incident['title']}",
        "generated_at": now.astimezone(UTC).isoformat(),
        "summary": _summary(incident, alerts, acked, resolved, opened),
        "impact": {
            "start": _iso(start),
            "end": _iso(resolved),
            "duration_s": _seconds(resolved, start),
            "ongoing": resolved is None,
        },
        "figures": {"tta_s": _seconds(acked, opened), "ttr_s": _seconds(resolved, opened)},
        "alerts": [_alert(a) for a in alerts],
        "paged": [_page(p) for p in pages],
        "acted": _acted(shown),
        "timeline": [
            {"at": _iso(e["at"]), "kind": e["kind"], "actor": e["actor"], "message": e["message"]}
            for e in shown
        ],
        "timeline_omitted": len(timeline) - len(shown),
        "playbook_runs": [_run(r) for r in runs],
        "causes": CAUSES_PROMPT,
        "actions": ACTIONS_PROMPT,
    }
    scrubbed: dict[str, Any] = scrub(doc)
    return scrubbed


def _summary(
    incident: Mapping[str, Any],
    alerts: Sequence[Mapping[str, Any]],
    acked: datetime | None,
    resolved: datetime | None,
    opened: datetime | None,
) -> str:
    sources = sorted({a["source"] for a in alerts})
    count = len(alerts)
    text = (
        f"A {incident['severity']} incident on {incident['service']}: {count} "
        f"alert{'' if count == 1 else 's'}" + (f" from {', '.join(sources)}" if sources else "")
    )
    text += f", opened {opened:%Y-%m-%d %H:%M} UTC" if opened else ""
    if acked is not None:
        text += f", acknowledged by {incident.get('acknowledged_by')} after "
        text += human_duration(_seconds(acked, opened))
    if resolved is not None:
        text += f", resolved by {incident.get('resolved_by')} after "
        text += human_duration(_seconds(resolved, opened))
    else:
        text += f"; still {incident['status']}"
    return text + "."


def _alert(alert: Mapping[str, Any]) -> dict[str, Any]:
    labels = dict(list(alert.get("labels", {}).items())[:MAX_LABELS])
    return {
        "fingerprint": alert["fingerprint"],
        "title": alert["title"],
        "source": alert["source"],
        "severity": alert["severity"],
        "service": alert["service"],
        "status": alert["status"],
        "occurrences": alert["occurrences"],
        "first_seen": _iso(alert.get("first_seen")),
        "last_seen": _iso(alert.get("last_seen")),
        "labels": labels,
        "flapping": bool(alert.get("flapping")),
    }


def _page(page: Mapping[str, Any]) -> dict[str, Any]:
    # Deliberately no address: a contact URL is a credential.
    return {
        "recipient": page.get("recipient") or "",
        "via": page.get("via") or "",
        "step": page.get("step") or "",
        "status": page.get("status") or "",
        "queued_at": _iso(page.get("created_at")),
        "sent_at": _iso(page.get("sent_at")),
    }


def _acted(timeline: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Who did what, by person: every timeline entry not written by firebell itself."""
    people: dict[str, list[dict[str, Any]]] = {}
    for entry in timeline:
        actor = entry.get("actor") or ""
        if actor and actor != "firebell":
            people.setdefault(actor, []).append(
                {"at": _iso(entry["at"]), "kind": entry["kind"], "message": entry["message"]}
            )
    return [{"person": name, "actions": actions} for name, actions in people.items()]


def _run(run: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": run["id"],
        "playbook": run["playbook"],
        "status": run["status"],
        "trigger": run.get("trigger", ""),
        "started_by": run.get("started_by", ""),
        "started_at": _iso(run.get("created_at")),
        "finished_at": _iso(run.get("finished_at")),
        "steps": [
            {
                "step_id": s["step_id"],
                "uses": s.get("uses", ""),
                "status": s["status"],
                "started_at": _iso(s.get("started_at")),
                "finished_at": _iso(s.get("finished_at")),
                "summary": s.get("summary", ""),
                "error": s.get("error", ""),
                "excerpt": s.get("excerpt") or "",
            }
            for s in run.get("steps", [])
        ],
        "approvals": [
            {
                "step_id": a.get("step_id", ""),
                "approver": a["approver"],
                "decision": a["decision"],
                "surface": a.get("surface", ""),
                "at": _iso(a.get("at")),
                "comment": a.get("comment", ""),
            }
            for a in run.get("approvals", [])
        ],
    }
