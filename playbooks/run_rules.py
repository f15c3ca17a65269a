"""The rules a run follows, as pure functions over its rows: which step comes next (run,
skip, cancel) or how the run ends, the run's summary, what templates see.

A false `if` skips a step; after a failure (unless `continue_on_error`) the run is
failing and later steps are skipped unless `always`; a cancel cancels the rest but the
`always` steps, which still run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from playbooks.model import Playbook

# rejected / expired: an approval step that never ran (expired is no rejection: distinct).
FINISHED_STEP = frozenset(
    {"succeeded", "failed", "skipped", "cancelled", "timed_out", "rejected", "expired"}
)
FINISHED_RUN = frozenset({"succeeded", "failed", "cancelled"})
FAILED = frozenset({"failed", "timed_out", "rejected", "expired"})
# A remote step between passes: its run is a stored state, not a sleeping task.
PARKED_STEP = frozenset({"awaiting_approval", "waiting"})
SUMMARY_LINE_CHARS = 200


@dataclass(frozen=True, slots=True)
class Move:
    """What to do next with a run (pure decision over its rows, see next_move)."""

    kind: str  # run / skip / cancel / finish
    position: int = -1
    status: str = ""  # finish: the run's end status
    reason: str = ""  # skip: why


def is_failing(spec: Playbook, steps: Sequence[Mapping[str, Any]]) -> bool:
    """A step failed (or timed out) that may not fail quietly (`continue_on_error`)."""
    return any(
        row["status"] in FAILED and not spec.spec.steps[row["position"]].continue_on_error
        for row in steps
    )


def next_move(spec: Playbook, steps: Sequence[Mapping[str, Any]], cancelling: bool) -> Move:
    """The next step to run, skip or cancel, or how the run ends."""
    failing = is_failing(spec, steps)
    pending = next((row for row in steps if row["status"] not in FINISHED_STEP), None)
    if pending is None:
        status = "cancelled" if cancelling else "failed" if failing else "succeeded"
        return Move("finish", status=status)
    position = pending["position"]
    step = spec.spec.steps[position]
    if step.always:
        return Move("run", position)
    if cancelling:
        return Move("cancel", position)
    if failing:
        return Move("skip", position, reason="an earlier step failed")
    return Move("run", position)


def summary_line(row: Mapping[str, Any]) -> str | None:
    """One line of run.summary for a finished step ("loki: 200 lines", "es: failed: HTTP
    401"): its first line, at most SUMMARY_LINE_CHARS (a report posts them all)."""
    status, name = row["status"], row["step_id"]
    if status == "succeeded":
        line = f"{name}: {row['summary']}"
    elif status == "failed":
        line = f"{name}: failed: {row['error'] or row['summary']}"
    elif status in ("timed_out", "skipped", "cancelled", "rejected", "expired"):
        line = f"{name}: {status.replace('_', ' ')}"
        if status in ("rejected", "expired") and row["summary"]:
            line = f"{name}: {row['summary']}"
    else:
        return None
    line = line.split("\n", 1)[0]
    return line if len(line) <= SUMMARY_LINE_CHARS else line[: SUMMARY_LINE_CHARS - 1] + "…"


def run_summary(steps: Sequence[Mapping[str, Any]]) -> str:
    return "\n".join(line for row in steps if (line := summary_line(row)) is not None)


def template_context(
    incident: Mapping[str, Any], run: Mapping[str, Any], spec: Playbook
) -> dict[str, Any]:
    """What a step's templates see: incident, params, steps.<id> ({status, summary,
    facts...}), run ({id, status: running/failing/cancelling, summary, started_by})."""
    steps = run["steps"]
    status = "running"
    if run["cancel_requested_by"] is not None:
        status = "cancelling"
    elif is_failing(spec, steps):
        status = "failing"
    return {
        "incident": dict(incident),
        "params": dict(run["params"]),
        "steps": {
            row["step_id"]: {**row["facts"], "status": row["status"], "summary": row["summary"]}
            for row in steps
        },
        "run": {
            "id": run["id"],
            "status": status,
            "summary": run_summary(steps),
            "started_by": run["started_by"],
        },
    }


def steps_changed(spec: Playbook, steps: Sequence[Mapping[str, Any]]) -> bool:
    """The playbook's steps are no longer those the run was created with."""
    now = [(s.id, s.uses) for s in spec.spec.steps]
    return now != [(row["step_id"], row["uses"]) for row in steps]
