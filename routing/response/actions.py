"""A person's response to an incident: acknowledge or resolve it and stop its paging, in the
caller's transaction. Every surface (REST API, chat commands, CLI) calls these, so each
stops escalations the same way; routing.response.incidents only changes the incident's state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from routing.paging.escalation_store import stop_escalations
from routing.response import incidents


def acknowledge(conn: Connection, incident_id: int, actor: str, now: datetime) -> dict[str, Any]:
    """Acknowledge and stop the escalations (pages not yet sent are cancelled)."""
    item = incidents.acknowledge(conn, incident_id, actor, now)
    stop_escalations(conn, incident_id, now, f"acknowledged by {actor}", actor)
    return item


def resolve(
    conn: Connection, incident_id: int, actor: str, now: datetime, note: str | None = None
) -> dict[str, Any]:
    """Resolve and stop the escalations (pages not yet sent are cancelled)."""
    item = incidents.resolve(conn, incident_id, actor, now, note)
    stop_escalations(conn, incident_id, now, f"resolved by {actor}", actor)
    return item
