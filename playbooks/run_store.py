"""Playbook runs as rows: create, claim, advance, cancel, read.

A run is due when `due_at` has passed and nobody holds its lease. A worker claims due
runs (PostgreSQL `FOR UPDATE SKIP LOCKED`, so replicas take disjoint runs; SQLite's
BEGIN IMMEDIATE serializes claims), and every later write of the runner is guarded by
`lease_owner`: once a lease ran out and another worker took the run over, the first
worker's writes change nothing. Each function runs in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Table, case, insert, or_, select, type_coerce, update
from sqlalchemy.dialects import postgresql, sqlite

from playbooks.model import Playbook
from playbooks.outputs import Output
from playbooks.run_lease import RUN, held_run, wait_until
from playbooks.run_rules import FINISHED_RUN, FINISHED_STEP
from routing.storage.playbook_tables import PlaybookOutputRow, PlaybookStepRow
from routing.storage.tables import UTCDateTime
from routing.storage.timeline import add_timeline

STEP: Table = PlaybookStepRow.metadata.tables["playbook_step"]
OUTPUT: Table = PlaybookOutputRow.metadata.tables["playbook_output"]


def create_run(
    conn: Connection,
    *,
    incident_id: int,
    playbook: Playbook,
    params: dict[str, Any],
    started_by: str,
    trigger: str,
    now: datetime,
    once_key: str | None = None,
) -> int | None:
    """A new run, due now, with one pending step row per step and a `playbook_started`
    timeline entry. None when `once_key` is taken (the run was started already)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(RUN)
        .values(
            incident_id=incident_id,
            playbook=playbook.id,
            playbook_sha256=playbook.sha256,
            trigger=trigger[:16],
            started_by=started_by[:200],
            params=params,
            status="running",
            created_at=now,
            due_at=now,
            lease_owner="",
            once_key=once_key,
            summary="",
            chat_refs={},
        )
        .on_conflict_do_nothing()
        .returning(RUN.c.id)
    )
    run_id: int | None = conn.execute(statement).scalar()
    if run_id is None:
        return None
    conn.execute(
        insert(STEP),
        [
            {
                "run_id": run_id,
                "position": position,
                "step_id": step.id,
                "uses": step.uses[:64],
                "status": "pending",
                "attempt": 0,
                "summary": "",
                "excerpt": "",
                "error": "",
                "facts": {},
                "request": {},
            }
            for position, step in enumerate(playbook.spec.steps)
        ],
    )
    how = "when the incident opened" if trigger == "on_open" else f"by {started_by}"
    add_timeline(
        conn,
        incident_id,
        now,
        "playbook_started",
        f"playbook {playbook.id} started {how} (run {run_id})",
        actor=started_by,
        data={"run_id": run_id, "playbook": playbook.id, "trigger": trigger, "params": params},
    )
    return run_id


def claim_due(
    conn: Connection, now: datetime, owner: str, lease: timedelta, limit: int
) -> list[int]:
    """Take up to `limit` due runs for `owner` until `now + lease`; their ids, oldest due first."""
    due = (
        conn.execute(
            select(RUN.c.id)
            .where(
                RUN.c.status == "running",
                RUN.c.due_at <= now,
                or_(RUN.c.lease_until.is_(None), RUN.c.lease_until <= now),
            )
            .order_by(RUN.c.due_at, RUN.c.id)
            .limit(limit)
            # Never wait: runs another replica holds are its to advance.
            .with_for_update(skip_locked=True)
        )
        .scalars()
        .all()
    )
    if due:
        conn.execute(
            update(RUN)
            .where(RUN.c.id.in_(due))
            .values(lease_until=now + lease, lease_owner=owner[:64])
        )
    return list(due)


def next_due(conn: Connection) -> datetime | None:
    """When the earliest unfinished run can next be claimed (its due time, or the end of
    the lease someone holds on it): lets a worker sleep exactly that long."""
    claimable = case(
        (RUN.c.lease_until > RUN.c.due_at, RUN.c.lease_until),
        else_=RUN.c.due_at,
    )
    value: datetime | None = conn.execute(
        select(type_coerce(claimable, UTCDateTime()))
        .where(RUN.c.status == "running", RUN.c.due_at.is_not(None))
        .order_by(claimable)
        .limit(1)
    ).scalar()
    return value


def begin_step(
    conn: Connection,
    run_id: int,
    owner: str,
    position: int,
    now: datetime,
    lease_until: datetime,
    request: Mapping[str, Any],
) -> int | None:
    """Mark a step running before its action is called (one more attempt) and hold the
    run until `lease_until`; the attempt number, or None if the lease was lost or ran out
    (then another worker may take the run: the action must not be called)."""
    if held_run(conn, run_id, owner, now) is None:
        return None
    attempt: int | None = conn.execute(
        update(STEP)
        .where(STEP.c.run_id == run_id, STEP.c.position == position)
        .values(
            status="running",
            attempt=STEP.c.attempt + 1,
            started_at=case((STEP.c.started_at.is_(None), now), else_=STEP.c.started_at),
            finished_at=None,
            request=dict(request),
        )
        .returning(STEP.c.attempt)
    ).scalar()
    conn.execute(update(RUN).where(RUN.c.id == run_id).values(lease_until=lease_until))
    return attempt


def finish_step(
    conn: Connection,
    run_id: int,
    owner: str,
    position: int,
    now: datetime,
    *,
    status: str,
    summary: str = "",
    excerpt: str = "",
    error: str = "",
    facts: Mapping[str, Any] | None = None,
    output: Output | None = None,
    run_summary: str,
    hold_until: datetime,
) -> Any:
    """Store a step's end (succeeded/failed/skipped/cancelled/timed_out), its output and
    the run's summary, holding the run on until `hold_until`; the run row as locked (its
    cancel request tells the runner what comes next), or None if the lease was lost."""
    assert status in FINISHED_STEP, status
    held = held_run(conn, run_id, owner)
    if held is None:
        return None
    step_row_id: int = conn.execute(
        update(STEP)
        .where(STEP.c.run_id == run_id, STEP.c.position == position)
        .values(
            status=status,
            finished_at=now,
            summary=summary,
            excerpt=excerpt,
            error=error,
            facts=dict(facts or {}),
        )
        .returning(STEP.c.id)
    ).scalar_one()
    # A step ends once (a finished step is never run again), so no earlier output exists.
    if output is not None and (output.lines or output.cut_lines):
        conn.execute(
            insert(OUTPUT).values(
                step_row_id=step_row_id,
                text=output.text,
                line_count=len(output.lines),
                cut_lines=output.cut_lines,
                cut_bytes=output.cut_bytes,
            )
        )
    conn.execute(
        update(RUN).where(RUN.c.id == run_id).values(summary=run_summary, lease_until=hold_until)
    )
    return held


def retry_later(
    conn: Connection,
    run_id: int,
    owner: str,
    position: int,
    due_at: datetime,
    *,
    summary: str,
    error: str,
) -> bool:
    """A failed try with tries left: the step waits (pending) until `due_at`, the lease
    is let go, so the wait is a stored state, not a sleep."""
    held = held_run(conn, run_id, owner)
    if held is None:
        return False
    conn.execute(
        update(STEP)
        .where(STEP.c.run_id == run_id, STEP.c.position == position)
        .values(status="pending", summary=summary, error=error)
    )
    wait_until(conn, held, due_at)
    return True


def finish_run(
    conn: Connection, run_id: int, owner: str, status: str, now: datetime, summary: str
) -> bool:
    assert status in FINISHED_RUN, status
    done = conn.execute(
        update(RUN)
        .where(RUN.c.id == run_id, RUN.c.lease_owner == owner[:64], RUN.c.status == "running")
        .values(
            status=status,
            finished_at=now,
            summary=summary,
            due_at=None,
            lease_until=None,
            lease_owner="",
        )
    )
    return done.rowcount == 1


def release(conn: Connection, run_id: int, owner: str) -> bool:
    """Let go of a run at once (a stopping worker), so the next claim takes it."""
    done = conn.execute(
        update(RUN)
        .where(RUN.c.id == run_id, RUN.c.lease_owner == owner[:64], RUN.c.status == "running")
        .values(lease_until=None, lease_owner="")
    )
    return done.rowcount == 1


def _steps_of(conn: Connection, run_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    steps: dict[int, list[dict[str, Any]]] = {run_id: [] for run_id in run_ids}
    rows = conn.execute(
        select(STEP).where(STEP.c.run_id.in_(run_ids)).order_by(STEP.c.run_id, STEP.c.position)
    ).mappings()
    for row in rows:
        steps[row["run_id"]].append(dict(row))
    return steps


def get_run(conn: Connection, run_id: int) -> dict[str, Any] | None:
    """The run row and "steps": its step rows in order (outputs are read apart)."""
    row = conn.execute(select(RUN).where(RUN.c.id == run_id)).mappings().first()
    if row is None:
        return None
    return {**row, "steps": _steps_of(conn, [run_id])[run_id]}


def list_runs(conn: Connection, incident_id: int | None, limit: int = 50) -> list[dict[str, Any]]:
    """Runs newest first (of one incident, or all), each with its steps."""
    query = select(RUN).order_by(RUN.c.id.desc()).limit(limit)
    if incident_id is not None:
        query = query.where(RUN.c.incident_id == incident_id)
    runs = [dict(row) for row in conn.execute(query).mappings()]
    steps = _steps_of(conn, [run["id"] for run in runs]) if runs else {}
    return [{**run, "steps": steps[run["id"]]} for run in runs]


def request_cancel(conn: Connection, run_id: int, actor: str, now: datetime) -> str:
    """ "cancelling" (now or already), "already finished", or "unknown". The runner ends
    the step in flight, cancels the rest but `always` steps, and ends the run cancelled."""
    row = conn.execute(select(RUN).where(RUN.c.id == run_id).with_for_update()).first()
    if row is None:
        return "unknown"
    if row.status != "running":
        return "already finished"
    if row.cancel_requested_by is not None:
        return "cancelling"
    # Due now: a run waiting for a retry is cancelled at once, not at its retry time.
    conn.execute(
        update(RUN).where(RUN.c.id == run_id).values(cancel_requested_by=actor[:200], due_at=now)
    )
    add_timeline(
        conn,
        row.incident_id,
        now,
        "playbook_cancel_requested",
        f"cancel of playbook {row.playbook} (run {run_id}) requested by {actor}",
        actor=actor,
        data={"run_id": run_id, "playbook": row.playbook},
    )
    return "cancelling"


def read_outputs(conn: Connection, run_id: int, step_id: str | None) -> list[dict[str, Any]]:
    """Each step's stored output (text "" for a step that kept none), in step order."""
    query = (
        select(
            STEP.c.step_id,
            STEP.c.uses,
            STEP.c.status,
            OUTPUT.c.text,
            OUTPUT.c.line_count,
            OUTPUT.c.cut_lines,
            OUTPUT.c.cut_bytes,
        )
        .select_from(STEP)
        .outerjoin(OUTPUT, OUTPUT.c.step_row_id == STEP.c.id)
        .where(STEP.c.run_id == run_id)
        .order_by(STEP.c.position)
    )
    if step_id is not None:
        query = query.where(STEP.c.step_id == step_id)
    return [
        {
            "step_id": row.step_id,
            "uses": row.uses,
            "status": row.status,
            "text": row.text or "",
            "line_count": row.line_count or 0,
            "cut_lines": row.cut_lines or 0,
            "cut_bytes": row.cut_bytes or 0,
        }
        for row in conn.execute(query)
    ]


def set_chat_refs(conn: Connection, run_id: int, refs: dict[str, str]) -> None:
    """Merge where the run's progress message was posted ({"slack": "C1:170.2"})."""
    current = conn.execute(
        select(RUN.c.chat_refs).where(RUN.c.id == run_id).with_for_update()
    ).scalar()
    if current is None:
        return
    conn.execute(update(RUN).where(RUN.c.id == run_id).values(chat_refs={**current, **refs}))


def taken_once_keys(conn: Connection, keys: Sequence[str]) -> set[str]:
    """Which of these once_keys a run has already (on_open starts skip them)."""
    if not keys:
        return set()
    rows = conn.execute(select(RUN.c.once_key).where(RUN.c.once_key.in_(keys))).scalars()
    return {key for key in rows if key is not None}
