"""Approval decisions as rows (`playbook_approval`): one per person, step and request
hash, so a second click of the same person on the same request changes nothing, and a
decision on a request that was since voided (a new hash) is kept but no longer counts.
Each function runs in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from routing.storage.playbook_tables import PlaybookApprovalRow

APPROVAL: Table = PlaybookApprovalRow.metadata.tables["playbook_approval"]


@dataclass(frozen=True, slots=True)
class Recorded:
    """What recording a decision did: `new` False when this person had already decided
    this request (`decision` is then the earlier one, which stands)."""

    new: bool
    decision: str
    at: datetime


def record(
    conn: Connection,
    *,
    step_row_id: int,
    approver: str,
    decision: str,
    surface: str,
    at: datetime,
    request_hash: str,
    comment: str = "",
) -> Recorded:
    """Store a decision unless this approver already decided this request."""
    assert decision in ("approved", "rejected"), decision
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    inserted = conn.execute(
        dialect.insert(APPROVAL)
        .values(
            step_row_id=step_row_id,
            approver=approver[:200],
            decision=decision,
            surface=surface[:16],
            at=at,
            request_hash=request_hash[:64],
            comment=comment,
        )
        .on_conflict_do_nothing()
        .returning(APPROVAL.c.id)
    ).scalar()
    if inserted is not None:
        return Recorded(True, decision, at)
    earlier = conn.execute(
        select(APPROVAL.c.decision, APPROVAL.c.at).where(
            APPROVAL.c.step_row_id == step_row_id,
            APPROVAL.c.approver == approver[:200],
            APPROVAL.c.request_hash == request_hash[:64],
        )
    ).one()
    return Recorded(False, earlier.decision, earlier.at)


def decisions(conn: Connection, step_row_id: int) -> list[dict[str, Any]]:
    """Every decision on the step (all request hashes), oldest first."""
    rows = conn.execute(
        select(APPROVAL).where(APPROVAL.c.step_row_id == step_row_id).order_by(APPROVAL.c.id)
    ).mappings()
    return [dict(row) for row in rows]
