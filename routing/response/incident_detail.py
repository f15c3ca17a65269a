"""Read models for one incident's page (web, and any surface that wants them): a page of
its timeline (newest first, keyset cursor) and its escalations as people read them
(policy, current step, who was paged, next step at).

Pure builders (`escalation_view`, `timeline_window`) are kept apart from the SQL
(`timeline_page`, `escalation_rows`) so they can be checked without a database. Nothing
here returns a notification address: contacts are credentials, only names are shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from routing.paging.escalation import EscalationPolicy
from routing.paging.escalation_store import ESCALATION
from routing.paging.outbox import NOTIFICATION
from routing.storage.timeline import TIMELINE

TIMELINE_PAGE = 50
# An open page that kept loading older entries shows at most this many at once.
TIMELINE_MAX_SHOWN = 1000


@dataclass(frozen=True, slots=True)
class TimelinePage:
    """Entries newest first; `older` is the cursor of the next older page (None: no more)
    and `since` the oldest id shown (what a live refresh keeps showing down to)."""

    entries: list[dict[str, Any]]
    older: int | None

    @property
    def since(self) -> int | None:
        return self.entries[-1]["id"] if self.entries else None


def timeline_window(
    rows: Sequence[Mapping[str, Any]], limit: int, more_below: bool
) -> TimelinePage:
    """`rows` fetched newest first (at most limit + 1): the page and its older cursor."""
    shown = [dict(r) for r in rows[:limit]]
    more = len(rows) > limit or more_below
    return TimelinePage(shown, shown[-1]["id"] if more and shown else None)


def timeline_page(
    conn: Connection,
    incident_id: int,
    *,
    before: int | None = None,
    since: int | None = None,
    limit: int = TIMELINE_PAGE,
) -> TimelinePage:
    """Newest first: the newest `limit` entries, or those older than entry `before`, or
    (`since`) every entry from that id up (capped at TIMELINE_MAX_SHOWN), so a page that
    refreshes keeps the entries it showed and gains the new ones on top."""
    of_incident = TIMELINE.c.incident_id == incident_id
    query = select(TIMELINE).where(of_incident).order_by(TIMELINE.c.id.desc())
    if since is not None:
        query, limit = query.where(TIMELINE.c.id >= since), TIMELINE_MAX_SHOWN
    if before is not None:
        query = query.where(TIMELINE.c.id < before)
    rows = [dict(r) for r in conn.execute(query.limit(limit + 1)).mappings()]
    more_below = False
    if rows and len(rows) <= limit:
        oldest = rows[-1]["id"]
        older = select(TIMELINE.c.id).where(of_incident, TIMELINE.c.id < oldest).limit(1)
        more_below = conn.execute(older).first() is not None
    return timeline_window(rows, limit, more_below)


def escalation_rows(
    conn: Connection, incident_id: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The incident's escalation rows (oldest first) and its page notifications, the
    latter without their addresses."""
    escalations = [
        dict(r)
        for r in conn.execute(
            select(ESCALATION)
            .where(ESCALATION.c.incident_id == incident_id)
            .order_by(ESCALATION.c.id)
        ).mappings()
    ]
    columns = [
        NOTIFICATION.c.escalation_id,
        NOTIFICATION.c.recipient,
        NOTIFICATION.c.via,
        NOTIFICATION.c.step,
        NOTIFICATION.c.status,
        NOTIFICATION.c.sent_at,
        NOTIFICATION.c.created_at,
    ]
    pages = [
        dict(r)
        for r in conn.execute(
            select(*columns)
            .where(NOTIFICATION.c.incident_id == incident_id, NOTIFICATION.c.kind == "page")
            .order_by(NOTIFICATION.c.id)
        ).mappings()
    ]
    return escalations, pages


def _step_text(policy: EscalationPolicy | None, pass_no: int, step_no: int) -> str:
    if policy is None:
        return f"step {step_no + 1}, pass {pass_no + 1}"
    return f"step {step_no + 1} of {len(policy.steps)}, pass {pass_no + 1} of {policy.repeat + 1}"


def escalation_view(
    escalations: Sequence[Mapping[str, Any]],
    pages: Sequence[Mapping[str, Any]],
    policies: Mapping[str, EscalationPolicy],
    now: datetime,
) -> list[dict[str, Any]]:
    """Each escalation as the page shows it, newest round first: its state, the step
    that runs next and when (None once stopped or finished, or while paused), what that
    step notifies, and who was paged so far (names and how, never addresses)."""
    shown = []
    for row in reversed(escalations):
        policy = policies.get(row["policy"])
        active = row["state"] == "active"
        paused = active and row["paused_at"] is not None
        next_targets: list[str] = []
        if active and policy is not None and row["step_no"] < len(policy.steps):
            next_targets = list(policy.steps[row["step_no"]].notify)
        paged = [
            {
                "recipient": p["recipient"] or "(unnamed)",
                "via": p["via"],
                "step": p["step"],
                "status": p["status"],
                "at": p["sent_at"] or p["created_at"],
            }
            for p in pages
            if p["escalation_id"] == row["id"]
        ]
        shown.append(
            {
                "id": row["id"],
                "policy": row["policy"],
                "known_policy": policy is not None,
                "round": row["round"],
                "state": row["state"],
                "paused": paused,
                "paused_reason": row["paused_reason"] if paused else None,
                "step": _step_text(policy, row["pass_no"], row["step_no"]) if active else None,
                "next_at": row["due_at"] if active and not paused else None,
                "overdue": active and not paused and row["due_at"] <= now,
                "next_targets": next_targets,
                "started_at": row["started_at"],
                "finished_at": row["finished_at"],
                "reason": row["reason"],
                "paged": paged,
            }
        )
    return shown


def load_escalations(
    conn: Connection, incident_id: int, policies: Mapping[str, EscalationPolicy], now: datetime
) -> list[dict[str, Any]]:
    escalations, pages = escalation_rows(conn, incident_id)
    return escalation_view(escalations, pages, policies, now)
