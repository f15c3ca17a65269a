"""Queue silence reminders into the outbox (the store of routing.paging.silence_reminder).

The worker calls `queue_reminders` each pass. Queued rows are delivered, retried and
counted like pages (routing/paging/outbox.py). Exactly once per silence, end and channel: the
outbox's unique `dedup_key` turns a second replica's identical insert into a no-op,
and a read of the keys first keeps passes that find nothing new free of writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from routing.muting.silence import Silence
from routing.muting.silence_store import stored_in_force
from routing.paging.escalation_store import (
    NOTIFICATION,
    insert_ignoring_duplicates,
)
from routing.paging.policy import PolicyConfig
from routing.paging.silence_reminder import (
    DEFAULT_LEAD,
    KIND,
    Reminder,
    due_reminders,
    reminder_payload,
)


@dataclass(frozen=True, slots=True)
class Queued:
    reminders: tuple[Reminder, ...]  # the rows this call inserted
    unreachable: tuple[Silence, ...]  # due, but no channel to remind in


def _row(reminder: Reminder, now: datetime) -> dict[str, Any]:
    assert reminder.silence.id is not None
    return {
        "incident_id": None,
        "escalation_id": None,
        "dedup_key": reminder.dedup_key,
        "kind": KIND,
        "address": reminder.channel,
        "recipient": reminder.team[:200],
        "via": reminder.via[:200],
        "created_at": now,
        "first_due_at": now,
        "next_attempt_at": now,
        "silence_id": reminder.silence.id[:64],
        "payload": reminder_payload(reminder),
    }


def _existing_keys(conn: Connection, keys: Sequence[str]) -> set[str]:
    query = select(NOTIFICATION.c.dedup_key).where(NOTIFICATION.c.dedup_key.in_(keys))
    return set(conn.execute(query).scalars())


def queue_reminders(
    conn: Connection, config: PolicyConfig, now: datetime, lead: timedelta = DEFAULT_LEAD
) -> Queued:
    """Insert the reminders due at `now` that were not queued before (in the caller's
    transaction); returns what was new and the silences nobody can be reminded of."""
    stored = stored_in_force(conn, now)
    plan = due_reminders(config, stored, now, lead)
    if not plan.reminders:
        return Queued((), plan.unreachable)
    already = _existing_keys(conn, [r.dedup_key for r in plan.reminders])
    if already:
        plan = due_reminders(config, stored, now, lead, already)
    inserted = []
    for reminder in plan.reminders:  # sorted by key: racing replicas lock in one order
        if insert_ignoring_duplicates(conn, NOTIFICATION, [_row(reminder, now)]):
            inserted.append(reminder)
    return Queued(tuple(inserted), plan.unreachable)


def reminders_of(conn: Connection, silence_id: str) -> list[dict[str, Any]]:
    """A silence's reminder rows, oldest first (for the API and tests)."""
    query = (
        select(NOTIFICATION)
        .where(NOTIFICATION.c.kind == KIND, NOTIFICATION.c.silence_id == silence_id[:64])
        .order_by(NOTIFICATION.c.id)
    )
    return [dict(r) for r in conn.execute(query).mappings()]
