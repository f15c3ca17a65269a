"""Adapters to routing.escalation_store: stop an incident's paging, queue pages made by hand."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection

from routing.escalation import Recipient


def stop_escalations(
    conn: Connection, incident_id: int, now: datetime, reason: str, actor: str
) -> int:
    """Stop the incident's escalations in this transaction (routing.escalation_store)."""
    from routing.escalation_store import stop_escalations as stop

    return stop(conn, incident_id, now, reason, actor)


def queue_manual_pages(
    conn: Connection,
    incident_id: int,
    page_id: str,
    recipients: Sequence[Recipient],
    now: datetime,
) -> int:
    """Put one outbox row per recipient, due now; the paging worker delivers them."""
    from routing.escalation_store import NOTIFICATION, insert_ignoring_duplicates

    rows = [
        {
            "incident_id": incident_id,
            "escalation_id": None,
            "dedup_key": f"manual:{page_id}:{_digest(r.address)}",
            "kind": "page" if r.kind == "user" else "channel",
            "address": r.address,
            "recipient": r.name[:200],
            "via": r.via[:200],
            "policy": None,
            "step": "paged by hand",
            "created_at": now,
            "first_due_at": now,
            "next_attempt_at": now,
        }
        for r in recipients
    ]
    return insert_ignoring_duplicates(conn, NOTIFICATION, rows)


def _digest(address: str) -> str:
    # Addresses may hold tokens: the key carries a digest, never the address.
    return hashlib.sha256(address.encode()).hexdigest()[:32]
