"""The paging shell's start and stop: escalations and channel posts start in the ingest
transaction; acknowledge, resolve and silences stop or quiet them. Due steps run in
escalation_steps.py (its docstring says how the locks avoid deadlocks); the silences
checked come from silences_in_force.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, func, insert, or_, select, update

from routing.intake.submission import IncidentEvent, IncidentEventKind
from routing.muting.matcher import matches
from routing.paging import follow_up_store
from routing.paging.follow_up_store import open_feeds
from routing.paging.policy import PolicyConfig
from routing.paging.silences_in_force import all_silences
from routing.paging.triage import (
    Triage,
    TriageOutcome,
    channel_key,
    hold_flapping,
    routing_labels,
    triage,
)
from routing.storage.database import insert_ignoring_duplicates as insert_ignoring_duplicates
from routing.storage.paging_tables import (
    EscalationRow,
    NotificationRow,
    PagingDecisionRow,
)
from routing.storage.tables import AlertRow, IncidentRow
from routing.storage.timeline import TIMELINE as TIMELINE
from routing.storage.timeline import add_timeline as add_timeline
from routing.storage.timeline import timeline_row

ALERT: Table = AlertRow.metadata.tables["alert"]
INCIDENT: Table = IncidentRow.metadata.tables["incident"]
# What routing an alert needs of its row (labels, severity, service, source).
ROUTING_COLUMNS = (
    ALERT.c.incident_id,
    ALERT.c.fingerprint,
    ALERT.c.labels,
    ALERT.c.severity,
    ALERT.c.service,
    ALERT.c.source,
)
ESCALATION: Table = EscalationRow.metadata.tables["escalation"]
NOTIFICATION: Table = NotificationRow.metadata.tables["notification"]
DECISION: Table = PagingDecisionRow.metadata.tables["paging_decision"]


_STARTING = (IncidentEventKind.OPENED, IncidentEventKind.REOPENED, IncidentEventKind.ALERT_ADDED)


# ------------------------------------------------------------------ starting (ingest hook)


@dataclass(frozen=True, slots=True)
class _EventAlert:
    event: IncidentEvent
    labels: dict[str, str]


def start_paging(
    conn: Connection, events: Sequence[IncidentEvent], now: datetime, config: PolicyConfig
) -> list[tuple[IncidentEvent, Triage]]:
    """Route, mute and start escalations for an ingest batch's incident events.

    Runs inside the ingest transaction (an Intake `in_transaction` hook), so an incident
    and its escalations commit together. OPENED and REOPENED always decide and record;
    ALERT_ADDED records only when it starts something new (a critical alert joining a
    warning incident, or the first unsilenced alert of a silenced one).
    """
    for incident_id in sorted(
        {e.incident_id for e in events if e.kind is IncidentEventKind.RESOLVED}
    ):
        stop_escalations(conn, incident_id, now, "incident resolved: all its alerts resolved")
    starting = [e for e in events if e.kind in _STARTING]
    if not starting:
        return []
    ids = sorted({e.incident_id for e in starting})
    status = dict(
        conn.execute(select(INCIDENT.c.id, INCIDENT.c.status).where(INCIDENT.c.id.in_(ids))).all()
    )
    work = [e for e in starting if status.get(e.incident_id) == "triggered"]
    if not work:
        return []
    alerts = _event_alerts(conn, work)
    rounds = incident_rounds(conn, ids)
    silences = all_silences(conn, config, now)
    firing = firing_labels(conn, config, [a.labels for a in alerts])
    decided = []
    decisions: list[dict[str, Any]] = []
    timeline: list[dict[str, Any]] = []
    for item in alerts:
        event = item.event
        result = hold_flapping(triage(config, item.labels, now, silences, firing), event.flapping)
        started = apply_triage(conn, event.incident_id, result, rounds[event.incident_id], now)
        if event.kind is not IncidentEventKind.ALERT_ADDED or started:
            decisions.append(decision_row(event.incident_id, event.fingerprint, result, now))
            timeline.append(_timeline_row(event, result, now))
        decided.append((event, result))
    # One statement per table for the batch: a storm of new incidents opens hundreds.
    if decisions:
        conn.execute(insert(DECISION), decisions)
        conn.execute(insert(TIMELINE), timeline)
    follow_up_store.after_triage(conn, decided, rounds, silences, now)
    return decided


def _event_alerts(conn: Connection, events: Sequence[IncidentEvent]) -> list[_EventAlert]:
    wanted = {(e.incident_id, e.fingerprint) for e in events}
    rows = conn.execute(
        select(*ROUTING_COLUMNS)
        .where(
            ALERT.c.incident_id.in_(sorted({i for i, _ in wanted})),
            ALERT.c.fingerprint.in_(sorted({fp for _, fp in wanted})),
        )
        .order_by(ALERT.c.episode)
    ).mappings()
    labels = {
        (r["incident_id"], r["fingerprint"]): routing_labels(
            r["labels"], r["severity"], r["service"], r["source"]
        )
        for r in rows
        if (r["incident_id"], r["fingerprint"]) in wanted
    }  # later episodes overwrite earlier ones: the latest labels win
    return [
        _EventAlert(e, labels[(e.incident_id, e.fingerprint)])
        for e in events
        if (e.incident_id, e.fingerprint) in labels
    ]


def incident_rounds(conn: Connection, incident_ids: list[int]) -> dict[int, int]:
    """The incident's opening number: 1 plus its reopenings (already in the timeline)."""
    counts: dict[int, int] = dict(
        conn.execute(
            select(TIMELINE.c.incident_id, func.count())
            .where(TIMELINE.c.incident_id.in_(incident_ids), TIMELINE.c.kind == "reopened")
            .group_by(TIMELINE.c.incident_id)
        ).all()
    )
    return {iid: 1 + int(counts.get(iid, 0)) for iid in incident_ids}


def firing_labels(
    conn: Connection, config: PolicyConfig, targets: list[dict[str, str]]
) -> list[dict[str, str]]:
    """Routing labels of every firing alert, for inhibition; loaded only when an inhibit
    rule could mute one of `targets` (else []). Public for `firebell simulate`."""
    if not any(matches(r.target_matchers, t) for r in config.inhibit_rules for t in targets):
        return []
    rows = conn.execute(
        select(ALERT.c.labels, ALERT.c.severity, ALERT.c.service, ALERT.c.source).where(
            ALERT.c.status == "firing"
        )
    ).all()
    return [routing_labels(r.labels, r.severity, r.service, r.source) for r in rows]


def apply_triage(
    conn: Connection, incident_id: int, result: Triage, round_no: int, now: datetime
) -> bool:
    """Insert the escalations, channel notifications and channel feeds a routed decision
    starts for this opening of the incident; True if anything was new (the keys make a
    replay, or another replica deciding the same, a no-op)."""
    escalations = [
        {
            "incident_id": incident_id,
            "policy": start.policy,
            "round": round_no,
            "route_path": start.route_path,
            "state": "active",
            "pass_no": 0,
            "step_no": 0,
            "started_at": start.due_at,
            "due_at": start.due_at,
            "updated_at": now,
        }
        for start in result.escalations
    ]
    channels = [
        channel_row(
            incident_id,
            channel_key(incident_id, round_no, notice.address),
            notice.address,
            notice.route_path,
            now,
            notice.due_at,
        )
        for notice in result.channels
    ]
    added = insert_ignoring_duplicates(conn, ESCALATION, escalations)
    added += insert_ignoring_duplicates(conn, NOTIFICATION, channels)
    open_feeds(conn, incident_id, round_no, result.channels, now)
    return added > 0


def channel_row(
    incident_id: int,
    dedup_key: str,
    address: str,
    route_path: str,
    now: datetime,
    due_at: datetime,
    step: str | None = None,
) -> dict[str, Any]:
    """An outbox row posting about an incident to a route's channel (its first post, or
    a later update or reminder from routing/paging/follow_up_pass.py)."""
    return {
        "incident_id": incident_id,
        "escalation_id": None,
        "dedup_key": dedup_key,
        "kind": "channel",
        "address": address,
        "recipient": "",
        "via": f"route {route_path}"[:200],
        "step": step[:200] if step is not None else None,
        "created_at": now,
        "first_due_at": due_at,
        "next_attempt_at": due_at,
    }


_TIMELINE_KIND = {
    TriageOutcome.ROUTED: "routed",
    TriageOutcome.SILENCED: "silenced",
    TriageOutcome.INHIBITED: "inhibited",
    TriageOutcome.TIME_MUTED: "muted",
    TriageOutcome.UNROUTED: "unrouted",
    TriageOutcome.FLAPPING: "flapping_not_paged",
}


def decision_row(
    incident_id: int, fingerprint: str, result: Triage, now: datetime, detail: str | None = None
) -> dict[str, Any]:
    """A paging_decision row: what one alert's triage decided (`detail` overrides why)."""
    return {
        "incident_id": incident_id,
        "fingerprint": fingerprint,
        "at": now,
        "outcome": result.outcome.value,
        "silence_id": result.silence_id,
        "route_path": result.route_path,
        "detail": (result.detail if detail is None else detail)[:2000],
    }


def _timeline_row(event: IncidentEvent, result: Triage, now: datetime) -> dict[str, Any]:
    data: dict[str, Any] = {"fingerprint": event.fingerprint, "outcome": result.outcome.value}
    if result.silence_id:
        data["silence_id"] = result.silence_id
    if result.escalations:
        data["policies"] = [s.policy for s in result.escalations]
    kind = _TIMELINE_KIND[result.outcome]
    return timeline_row(event.incident_id, now, kind, result.detail, data=data)


# ------------------------------------------------------------------ stopping


def stop_escalations(
    conn: Connection, incident_id: int, now: datetime, reason: str, actor: str = "firebell"
) -> int:
    """Stop the incident's active escalations and cancel their undelivered pages.

    Call it in the same transaction as the acknowledge/resolve that makes it true; it is
    idempotent, and the worker also stops an escalation whose incident is no longer
    triggered when its step comes due. Returns how many escalations were stopped.
    """
    stopped = conn.execute(
        update(ESCALATION)
        .where(ESCALATION.c.incident_id == incident_id, ESCALATION.c.state == "active")
        .values(state="stopped", reason=reason[:500], finished_at=now, updated_at=now)
        .returning(ESCALATION.c.id, ESCALATION.c.policy)
    ).all()
    if not stopped:
        return 0
    _cancel_pages(conn, [row.id for row in stopped], now, reason)
    for row in stopped:
        add_timeline(
            conn,
            incident_id,
            now,
            "escalation_stopped",
            f"escalation {row.policy} stopped: {reason}",
            actor,
            {"escalation_id": row.id, "policy": row.policy},
        )
    return len(stopped)


def cancel_pending_pages(conn: Connection, incident_id: int, now: datetime, reason: str) -> int:
    """Cancel the pages of the incident's escalations not yet sent, leaving the
    escalations to run (a silence pauses their next step until it ends). A finished
    escalation's too: its last step's pages may still wait, held for a pager-storm
    bundle for up to its window. Pages made by hand (no escalation) still go."""
    unstopped = conn.execute(
        select(ESCALATION.c.id).where(
            ESCALATION.c.incident_id == incident_id, ESCALATION.c.state.in_(("active", "done"))
        )
    ).scalars()
    return _cancel_pages(conn, list(unstopped), now, reason)


def _cancel_pages(conn: Connection, escalation_ids: list[int], now: datetime, reason: str) -> int:
    if not escalation_ids:
        return 0
    # Rows claimed by a deliverer are in flight; it records what happened to them.
    done = conn.execute(
        update(NOTIFICATION)
        .where(
            NOTIFICATION.c.escalation_id.in_(escalation_ids),
            # "held": waiting for a pager-storm bundle (routing/paging/bundle_store.py)
            NOTIFICATION.c.status.in_(("pending", "held")),
            or_(NOTIFICATION.c.claimed_until.is_(None), NOTIFICATION.c.claimed_until <= now),
        )
        .values(status="cancelled", detail=f"not sent: {reason}"[:500])
    )
    return int(done.rowcount or 0)


# ------------------------------------------------------------------ reading


def escalations_of(conn: Connection, incident_id: int) -> list[dict[str, Any]]:
    """The incident's escalations, oldest first (for the API and tests)."""
    return [
        dict(row)
        for row in conn.execute(
            select(ESCALATION)
            .where(ESCALATION.c.incident_id == incident_id)
            .order_by(ESCALATION.c.id)
        ).mappings()
    ]


__all__ = [
    "apply_triage",
    "cancel_pending_pages",
    "channel_row",
    "decision_row",
    "escalations_of",
    "firing_labels",
    "incident_rounds",
    "insert_ignoring_duplicates",
    "start_paging",
    "stop_escalations",
]
