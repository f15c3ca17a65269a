"""A run's guarded writes with their timeline entries, inside the caller's transaction:
a step's start is written by the runner, its end and the run's end here, so the runner
can end the last step and the run in one transaction."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from playbooks import run_store
from playbooks.outputs import Output
from playbooks.run_rules import run_summary
from routing.storage.timeline import add_timeline


def end_step(
    conn: Connection,
    run: Mapping[str, Any],
    owner: str,
    row: Mapping[str, Any],
    now: datetime,
    status: str,
    *,
    summary: str,
    steps: list[dict[str, Any]],
    hold_until: datetime,
    error: str = "",
    shown: str = "",
    facts: dict[str, Any] | None = None,
    output: Output | None = None,
) -> Any:
    """The step's end (`steps`: the run's rows with it ended) and its timeline entry;
    the run row as held, None if the lease was lost."""
    held = run_store.finish_step(
        conn, run["id"], owner, row["position"], now, status=status, summary=summary,
        excerpt=shown, error=error, facts=facts, output=output,
        run_summary=run_summary(steps), hold_until=hold_until,
    )  # fmt: skip
    if held is not None:
        text = {"failed": f"failed: {error or summary}", "succeeded": f"finished: {summary}"}
        message = text.get(status, summary)
        step_timeline(conn, run, row, now, status, message, shown, row["attempt"])
    return held


def end_run(
    conn: Connection,
    run: Mapping[str, Any],
    owner: str,
    status: str,
    now: datetime,
    summary: str,
) -> bool:
    """The run's end and its `playbook_finished` entry; False if the lease was lost."""
    done = run_store.finish_run(conn, run["id"], owner, status, now, summary)
    if done:
        add_timeline(
            conn, run["incident_id"], now, "playbook_finished",
            f"playbook {run['playbook']} {status} (run {run['id']})"
            + (f"\n{summary}" if summary else ""),
            data={"run_id": run["id"], "playbook": run["playbook"], "status": status},
        )  # fmt: skip
    return done


def step_timeline(
    conn: Connection,
    run: Mapping[str, Any],
    row: Mapping[str, Any],
    now: datetime,
    status: str,
    message: str,
    shown: str = "",
    attempt: int | None = None,
    **data: Any,
) -> None:
    """A step's `playbook_step` entry (`attempt`: the row's unless given). Remote and
    approval steps add their status words (awaiting_approval, approval_void,
    approval_reminder, approved, dispatched, unknown, found, ci_status) and the CI link
    and status in `data`."""
    text = f"{row['step_id']}: {message}" + (f"\n{shown}" if shown else "")
    entry = {
        "run_id": run["id"],
        "playbook": run["playbook"],
        "step_id": row["step_id"],
        "status": status,
        "attempt": row.get("attempt", 0) if attempt is None else attempt,
        "excerpt": shown,
        "worker": run["lease_owner"],  # host:pid:tag of the process that ran it
        **data,
    }
    add_timeline(conn, run["incident_id"], now, "playbook_step", text, data=entry)
