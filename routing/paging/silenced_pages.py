"""A new silence quiets pages already queued: those not yet sent (pending, or held for a
pager-storm bundle) on incidents whose every open alert it mutes now.

Triage sees a silence only for alerts that arrive after it, and an escalation's next
step checks silences when it comes due; without this, a page queued a moment before
someone silenced the storm still went out. An incident with one open alert the silence
does not match keeps its pages, as Alertmanager still notifies a group while any of its
alerts is unsilenced. A silence made on one incident (chat `silence <id>`) cancels that
incident's pages itself (bot.commands.silences).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Table, select

from routing.muting import silence_store
from routing.muting.matcher import matches
from routing.muting.silence import Silence, silence_active
from routing.muting.silence_matches import OPEN_STATUSES
from routing.paging.escalation_store import add_timeline, cancel_pending_pages
from routing.paging.triage import routing_labels
from routing.storage.paging_tables import NotificationRow
from routing.storage.tables import AlertRow

NOTIFICATION: Table = NotificationRow.metadata.tables["notification"]
ALERT: Table = AlertRow.metadata.tables["alert"]
WAITING = ("pending", "held")  # in ix_notification_due


def store_silence(conn: Connection, silence: Silence, now: datetime) -> tuple[Silence, list[int]]:
    """Store a silence made by matchers (API, web page, chat) and quiet what it mutes
    already queued; the stored silence and the incidents whose pages were cancelled."""
    stored = silence_store.create(conn, silence, now)
    return stored, cancel_pages_silenced_by(conn, stored, stored.created_by, now)


def cancel_pages_silenced_by(
    conn: Connection, silence: Silence, actor: str, now: datetime
) -> list[int]:
    """In the transaction that stores `silence`: cancel the unsent escalation pages of
    every incident it mutes entirely at `now`, with a timeline entry on each. Returns
    the incidents that had any, in order."""
    if not silence_active(silence, now):
        return []
    waiting = (
        select(NOTIFICATION.c.incident_id)
        .where(
            NOTIFICATION.c.status.in_(WAITING),
            NOTIFICATION.c.escalation_id.is_not(None),
            NOTIFICATION.c.incident_id.is_not(None),
        )
        .distinct()
    )
    # One read for every waiting incident's open alerts: this runs while the silence's
    # write transaction holds the lock, and a storm can have thousands queued.
    rows = conn.execute(
        select(ALERT.c.incident_id, ALERT.c.labels, ALERT.c.severity, ALERT.c.service,
               ALERT.c.source)
        .where(ALERT.c.incident_id.in_(waiting), ALERT.c.status.in_(OPEN_STATUSES))
    ).all()  # fmt: skip
    muted: dict[int, bool] = {}
    for r in rows:
        labels = routing_labels(r.labels or {}, r.severity, r.service, r.source)
        muted[r.incident_id] = muted.get(r.incident_id, True) and matches(silence.matchers, labels)
    reason = f"silenced by {actor}"
    cancelled: list[int] = []
    for incident_id in sorted(i for i, every in muted.items() if every):
        count = cancel_pending_pages(conn, incident_id, now, reason)
        if count:
            cancelled.append(incident_id)
            add_timeline(
                conn,
                incident_id,
                now,
                "silenced",
                f"{actor}'s silence {silence.id} mutes every open alert: "
                f"{count} page{'s' if count != 1 else ''} not sent",
                actor,
                {"silence_id": silence.id, "pages_cancelled": count},
            )
    return cancelled
