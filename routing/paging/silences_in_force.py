"""The silences routing checks at a moment: the config's maintenance windows plus the
stored silences that may be in force. A stored row that no longer reads as a Silence is
logged and skipped, so one bad row never stops alerts from being stored or paged."""

from __future__ import annotations

import logging
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import Connection, or_, select

from routing.muting.silence import Recurrence, Silence
from routing.muting.silence_store import SILENCE
from routing.paging.policy import PolicyConfig
from routing.paging.triage import silence_label

log = logging.getLogger("firebell.paging")


def stored_silences(conn: Connection, now: datetime) -> list[Silence]:
    """Silences from the database that may be in force at `now` (unreadable rows are logged
    and skipped: a bad row must not stop alerts from being stored)."""
    rows = conn.execute(
        select(SILENCE).where(
            SILENCE.c.expired_at.is_(None),
            or_(SILENCE.c.ends_at.is_(None), SILENCE.c.ends_at > now),
            or_(SILENCE.c.starts_at.is_(None), SILENCE.c.starts_at <= now),
        )
    ).mappings()
    out = []
    for row in rows:
        try:
            out.append(
                Silence(
                    id=row["id"],
                    matchers=list(row["matchers"]),
                    starts_at=row["starts_at"],
                    ends_at=row["ends_at"],
                    created_by=row["created_by"],
                    comment=row["comment"],
                    recurrence=Recurrence.model_validate(row["recurrence"])
                    if row["recurrence"]
                    else None,
                )
            )
        except (ValidationError, ValueError) as exc:
            log.error("silence %s is invalid and ignored: %s", row["id"], exc)
    return out


def all_silences(conn: Connection, config: PolicyConfig, now: datetime) -> list[Silence]:
    """The config's silences (an unnamed one named by its place in the file), then the
    stored silences that may be in force at `now`."""
    configured = [
        s if s.id else s.model_copy(update={"id": silence_label(s, i)})
        for i, s in enumerate(config.silences)
    ]
    return configured + stored_silences(conn, now)
