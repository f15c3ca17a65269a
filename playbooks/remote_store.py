"""The stored states of remote and approval steps (playbook_step's remote columns, the
playbook_approval decisions), inside the caller's transaction.

Every write is guarded by the run's lease like playbooks.run_store's: a worker that lost
its run changes nothing. The dispatch intent is also a compare-and-set on the step's
`dispatch` column (only "" becomes "intent"), so no two passes can both send it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, case, select, update

from playbooks.run_lease import RUN, held_run, wait_until
from playbooks.run_store import STEP
from routing.storage.playbook_tables import PlaybookApprovalRow

APPROVAL: Table = PlaybookApprovalRow.metadata.tables["playbook_approval"]


def hold(conn: Connection, run_id: int, owner: str, now: datetime, until: datetime) -> bool:
    """Keep the run (its lease must still be live at `now`) until `until`: one call's
    worth, so a worker that dies mid-call lets go of it soon."""
    if held_run(conn, run_id, owner, now) is None:
        return False
    conn.execute(update(RUN).where(RUN.c.id == run_id).values(lease_until=until))
    return True


def record_intent(
    conn: Connection,
    run_id: int,
    owner: str,
    position: int,
    now: datetime,
    lease_until: datetime,
    *,
    request: Mapping[str, Any],
    correlation_id: str,
    wait_until: datetime | None,
) -> int | None:
    """Commit the intent to dispatch before anything is sent: the step running (one
    more attempt), dispatch "intent". The attempt, or None when the lease was lost or a
    dispatch was already recorded (then nothing may be sent)."""
    if held_run(conn, run_id, owner, now) is None:
        return None
    attempt: int | None = conn.execute(
        update(STEP)
        .where(STEP.c.run_id == run_id, STEP.c.position == position, STEP.c.dispatch == "")
        .values(
            status="running",
            attempt=STEP.c.attempt + 1,
            started_at=case((STEP.c.started_at.is_(None), now), else_=STEP.c.started_at),
            finished_at=None,
            request=dict(request),
            dispatch="intent",
            correlation_id=correlation_id[:128],
            dispatched_at=now,
            wait_until=wait_until,
        )
        .returning(STEP.c.attempt)
    ).scalar()
    if attempt is not None:
        conn.execute(update(RUN).where(RUN.c.id == run_id).values(lease_until=lease_until))
    return attempt


def set_step(conn: Connection, run_id: int, position: int, values: Mapping[str, Any]) -> None:
    """Write a step's columns (the caller holds the run: call after a guarded write)."""
    if not values:
        return
    conn.execute(
        update(STEP)
        .where(STEP.c.run_id == run_id, STEP.c.position == position)
        .values(**dict(values))
    )


def update_step(
    conn: Connection, run_id: int, owner: str, position: int, values: Mapping[str, Any]
) -> bool:
    """A guarded write of a step's columns; False if the lease was lost."""
    if held_run(conn, run_id, owner) is None:
        return False
    set_step(conn, run_id, position, values)
    return True


def park(
    conn: Connection,
    run_id: int,
    owner: str,
    position: int,
    due_at: datetime,
    values: Mapping[str, Any],
) -> bool:
    """The step waits (for a poll, a lookup, a decision, an expiry) as a row: its
    columns written, the run due at `due_at`, the lease let go."""
    held = held_run(conn, run_id, owner)
    if held is None:
        return False
    set_step(conn, run_id, position, values)
    wait_until(conn, held, due_at)
    return True


def due_now(conn: Connection, run_id: int, now: datetime) -> None:
    conn.execute(update(RUN).where(RUN.c.id == run_id).values(due_at=now))


def wake_awaiting(conn: Connection, now: datetime) -> int:
    """Make the runs with a step awaiting approval due now (after a catalog reload, so a
    changed request is voided and asked again at once); how many."""
    awaiting = select(STEP.c.run_id).where(STEP.c.status == "awaiting_approval")
    done = conn.execute(
        update(RUN)
        .where(RUN.c.status == "running", RUN.c.id.in_(awaiting), RUN.c.due_at > now)
        .values(due_at=now)
    )
    return int(done.rowcount or 0)


def decisions(conn: Connection, step_row_id: int) -> list[dict[str, Any]]:
    """Every decision recorded on a step (all request hashes), oldest first."""
    rows = conn.execute(
        select(APPROVAL).where(APPROVAL.c.step_row_id == step_row_id).order_by(APPROVAL.c.id)
    ).mappings()
    return [dict(row) for row in rows]
