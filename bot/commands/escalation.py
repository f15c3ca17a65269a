"""Queueing pages made by hand in routing.paging.escalation_store's outbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection

from routing.paging.escalation import Recipient
from routing.paging.escalation_store import NOTIFICATION, insert_ignoring_duplicates
from routing.paging.triage import address_digest


def queue_manual_pages(
    conn: Connection,
    incident_id: int,
    page_id: str,
    recipients: Sequence[Recipient],
    now: datetime,
) -> int:
    """Put one outbox row per recipient, due now; the paging worker delivers them."""
    rows = [
        {
            "incident_id": incident_id,
            "escalation_id": None,
            "dedup_key": f"manual:{page_id}:{address_digest(r.address)}",
            "kind": "page" if r.kind == "user" else "channel",
            "address": r.address,
            "recipient": r.name[:200],
            "via": r.via[:200],
            "policy": None,
            "step": "paged by hand",
            "created_at": now,
            "first_due_at": now,
            "next_attempt_at": now,
            # Paged on purpose: never held for a pager-storm bundle (still counted in one).
            "released_at": now,
        }
        for r in recipients
    ]
    return insert_ignoring_duplicates(conn, NOTIFICATION, rows)
