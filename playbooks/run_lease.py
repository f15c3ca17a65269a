"""Who holds a playbook run: the guard every runner write takes, and letting go of it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, select, update

from routing.storage.playbook_tables import PlaybookRunRow

RUN: Table = PlaybookRunRow.metadata.tables["playbook_run"]


def held_run(conn: Connection, run_id: int, owner: str, now: datetime | None = None) -> Any:
    """The run row if `owner` holds it (with `now`: and its lease has not run out) and it
    is unfinished; locked until commit. None once another worker took it over."""
    query = select(RUN).where(
        RUN.c.id == run_id, RUN.c.lease_owner == owner[:64], RUN.c.status == "running"
    )
    if now is not None:
        query = query.where(RUN.c.lease_until > now)
    return conn.execute(query.with_for_update()).first()


def wait_until(conn: Connection, held: Any, due_at: datetime) -> None:
    """Let go of a held run (a row from held_run) until `due_at`. A cancel that landed
    during the pass made the run due then, and stays so: it is never put off."""
    if held.cancel_requested_by is not None and held.due_at is not None:
        due_at = min(due_at, held.due_at)
    conn.execute(
        update(RUN)
        .where(RUN.c.id == held.id)
        .values(due_at=due_at, lease_until=None, lease_owner="")
    )
