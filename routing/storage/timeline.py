"""The incident timeline: the one place a timeline entry is written."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, insert

from routing.storage.tables import TimelineEntry

TIMELINE: Table = TimelineEntry.metadata.tables["timeline"]


def timeline_row(
    incident_id: int,
    now: datetime,
    kind: str,
    message: str,
    actor: str = "firebell",
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One entry's values, texts clipped to their columns (for a batched insert)."""
    return {
        "incident_id": incident_id,
        "at": now,
        "kind": kind[:32],
        "actor": actor[:200],
        "message": message[:2000],
        "data": data or {},
    }


def add_timeline(
    conn: Connection,
    incident_id: int,
    now: datetime,
    kind: str,
    message: str,
    actor: str = "firebell",
    data: dict[str, Any] | None = None,
) -> None:
    """Append an entry in the caller's transaction (texts clipped to their columns)."""
    conn.execute(
        insert(TIMELINE).values(timeline_row(incident_id, now, kind, message, actor, data))
    )
