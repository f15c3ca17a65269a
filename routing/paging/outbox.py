"""The notification outbox shell: claim due rows, load what a message needs, record the result.

Delivery is at least once. A claimer marks its rows `claimed_until` in the claiming
transaction (PostgreSQL `FOR UPDATE SKIP LOCKED`, so replicas take disjoint rows),
delivers outside any transaction, then records the outcome in a second one. A crash
between sending and recording is the only way a message goes out twice; a crash
before sending delays it until the claim runs out.

Most rows are about an incident; a silence reminder (routing/paging/silence_reminder.py) is
about a silence and has no incident.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    Table,
    bindparam,
    case,
    func,
    or_,
    select,
    type_coerce,
    update,
)

from routing.paging.silence_reminder import KIND as REMINDER_KIND
from routing.paging.silence_reminder import payload_silence, reminder_cancel_reason
from routing.storage.paging_tables import NotificationRow, SilenceRow
from routing.storage.tables import AlertRow, IncidentRow, UTCDateTime
from routing.storage.timeline import add_timeline

log = logging.getLogger("firebell.paging")

ALERT: Table = AlertRow.metadata.tables["alert"]
INCIDENT: Table = IncidentRow.metadata.tables["incident"]
NOTIFICATION: Table = NotificationRow.metadata.tables["notification"]
SILENCE: Table = SilenceRow.metadata.tables["silence"]

DEFAULT_CLAIM = timedelta(seconds=60)
MAX_ALERTS_PER_MESSAGE = 200  # the renderers show 50 lines; the rest only add to a count


@dataclass(frozen=True, slots=True)
class Claimed:
    """One claimed outbox row with the incident and alerts its message is built from
    (both empty for a silence reminder: its row's `payload` holds the silence)."""

    row: dict[str, Any]
    incident: dict[str, Any]
    alerts: Sequence[dict[str, Any]] = field(default_factory=tuple)


def cancel_reason(kind: str, incident_status: str) -> str | None:
    """Why a pending row must not be sent any more, or None.

    Pages exist to get an acknowledgement, so they are dropped once the incident is
    acknowledged or resolved; channel posts inform, so they are dropped only when the
    incident resolved before they went out (as Alertmanager's group_wait does).
    """
    if kind == "page" and incident_status != "triggered":
        return f"incident {incident_status} before delivery"
    if kind == "channel" and incident_status == "resolved":
        return "incident resolved before delivery"
    return None


def _cancel(row: Any, now: datetime) -> str | None:
    if row.kind != REMINDER_KIND:
        return cancel_reason(row.kind, row.status)
    try:
        silence, _ = payload_silence(row.payload or {})
    except ValueError:
        return None  # building the message fails the same way, and that is recorded
    assert silence.ends_at is not None
    return reminder_cancel_reason(silence.ends_at, row.expired_at, now)


def _ranked_alerts() -> Select[Any]:
    """Firing alerts first (they are what the person must look at), at most
    MAX_ALERTS_PER_MESSAGE per incident, for all the claimed incidents in one query.
    Built once: a fresh subquery's columns cost more than the query itself."""
    rank = (
        func.row_number()
        .over(
            partition_by=ALERT.c.incident_id,
            order_by=((ALERT.c.status == "resolved").asc(), ALERT.c.id),
        )
        .label("rank")
    )
    wanted = ALERT.c.incident_id.in_(bindparam("incident_ids", expanding=True))
    ranked = select(ALERT, rank).where(wanted).subquery()
    return (
        select(*[ranked.c[c.name] for c in ALERT.columns])
        .where(ranked.c.rank <= MAX_ALERTS_PER_MESSAGE)
        .order_by(ranked.c.incident_id, ranked.c.rank)
    )


_RANKED_ALERTS = _ranked_alerts()


def claim_due(
    conn: Connection,
    now: datetime,
    claimer: str,
    limit: int = 100,
    claim_for: timedelta = DEFAULT_CLAIM,
) -> list[Claimed]:
    """Claim up to `limit` due rows for `claimer` in the caller's (short) transaction."""
    due = conn.execute(
        select(
            NOTIFICATION.c.id,
            NOTIFICATION.c.kind,
            NOTIFICATION.c.payload,
            INCIDENT.c.status,
            SILENCE.c.expired_at,
        )
        .select_from(NOTIFICATION)
        # Outer joins: a silence reminder has no incident, a page no silence.
        .outerjoin(INCIDENT, INCIDENT.c.id == NOTIFICATION.c.incident_id)
        .outerjoin(SILENCE, SILENCE.c.id == NOTIFICATION.c.silence_id)
        .where(
            NOTIFICATION.c.status == "pending",
            NOTIFICATION.c.next_attempt_at <= now,
            or_(NOTIFICATION.c.claimed_until.is_(None), NOTIFICATION.c.claimed_until <= now),
        )
        .order_by(NOTIFICATION.c.next_attempt_at, NOTIFICATION.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=NOTIFICATION)
    ).all()
    taken = []
    for row in due:
        reason = _cancel(row, now)
        if reason is not None:
            conn.execute(
                update(NOTIFICATION)
                .where(NOTIFICATION.c.id == row.id)
                .values(status="cancelled", detail=f"not sent: {reason}", claimed_until=None)
            )
        else:
            taken.append(row.id)
    if not taken:
        return []
    # The claim hands back the rows it took: one statement, not an update and a read.
    claimed = conn.execute(
        update(NOTIFICATION)
        .where(NOTIFICATION.c.id.in_(taken))
        .values(claimed_until=now + claim_for, claimed_by=claimer[:200])
        .returning(*NOTIFICATION.c)
    ).mappings()
    rows = sorted((dict(r) for r in claimed), key=lambda r: int(r["id"]))
    incident_ids = sorted({r["incident_id"] for r in rows if r["incident_id"] is not None})
    incidents = {
        r["id"]: dict(r)
        for r in conn.execute(select(INCIDENT).where(INCIDENT.c.id.in_(incident_ids))).mappings()
    }
    alerts: dict[int, list[dict[str, Any]]] = {iid: [] for iid in incident_ids}
    for a in conn.execute(_RANKED_ALERTS, {"incident_ids": incident_ids}).mappings():
        alerts[a["incident_id"]].append(dict(a))
    return [
        Claimed(r, incidents[iid], alerts[iid])
        if (iid := r["incident_id"]) is not None
        else Claimed(r, {})
        for r in rows
    ]


def record_result(
    conn: Connection,
    notification_id: int,
    claimer: str,
    values: Mapping[str, Any],
) -> bool:
    """Store a delivery outcome for a row this claimer holds; False if the claim was lost
    (it ran out and another claimer took the row, which then records its own outcome)."""
    done = conn.execute(
        update(NOTIFICATION)
        .where(
            NOTIFICATION.c.id == notification_id,
            NOTIFICATION.c.claimed_by == claimer[:200],
            NOTIFICATION.c.status == "pending",
        )
        .values(**values, claimed_until=None)
    )
    return done.rowcount == 1


def record_results(
    conn: Connection,
    notification_ids: Sequence[int],
    claimer: str,
    values: Mapping[str, Any],
) -> set[int]:
    """`record_result` for rows with the same outcome, in one statement; returns the ids
    stored (the others' claims were lost)."""
    done = conn.execute(
        update(NOTIFICATION)
        .where(
            NOTIFICATION.c.id.in_(notification_ids),
            NOTIFICATION.c.claimed_by == claimer[:200],
            NOTIFICATION.c.status == "pending",
        )
        .values(**values, claimed_until=None)
        .returning(NOTIFICATION.c.id)
    )
    return {row.id for row in done}


def note_failure(
    conn: Connection, claimed: Claimed, now: datetime, detail: str, attempts: int
) -> None:
    """A permanent failure goes on the incident's timeline, where responders look (a
    silence reminder has no incident: it is logged, and the failed row is kept)."""
    row = claimed.row
    if row["kind"] == "bundle":  # a pager-storm bundle: on each of its incidents
        for item in (row["payload"] or {}).get("incidents", []):
            add_timeline(
                conn,
                int(item["id"]),
                now,
                "notification_failed",
                f"bundled page to {row['recipient']} failed after {attempts} "
                f"attempt{'s' if attempts != 1 else ''}: {detail}",
                data={"notification_id": row["id"], "kind": row["kind"], "via": row["via"]},
            )
        return
    if row["incident_id"] is None:
        log.error(
            "silence reminder %s for silence %s to %s failed after %d attempt%s: %s",
            row["id"],
            row["silence_id"],
            row["recipient"] or row["via"],
            attempts,
            "s" if attempts != 1 else "",
            detail,
        )
        return
    who = row["recipient"] or row["via"]
    what = "page" if row["kind"] == "page" else "channel notification"
    add_timeline(
        conn,
        row["incident_id"],
        now,
        "notification_failed",
        f"{what} to {who} failed after {attempts} attempt{'s' if attempts != 1 else ''}: {detail}",
        data={"notification_id": row["id"], "kind": row["kind"], "via": row["via"]},
    )


def notifications_of(conn: Connection, incident_id: int) -> list[dict[str, Any]]:
    """The incident's outbox rows, oldest first (for the API and tests)."""
    query = (
        select(NOTIFICATION)
        .where(NOTIFICATION.c.incident_id == incident_id)
        .order_by(NOTIFICATION.c.id)
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def next_due(conn: Connection) -> datetime | None:
    """When the earliest pending row can next be claimed: its next attempt, or the end of
    the claim someone holds on it (lets a worker sleep exactly that long)."""
    claimable = case(
        (
            NOTIFICATION.c.claimed_until > NOTIFICATION.c.next_attempt_at,
            NOTIFICATION.c.claimed_until,
        ),
        else_=NOTIFICATION.c.next_attempt_at,
    )
    value: datetime | None = conn.execute(
        select(type_coerce(claimable, UTCDateTime()))
        .where(NOTIFICATION.c.status == "pending")
        .order_by(claimable)
        .limit(1)
    ).scalar()
    return value
