"""Approve, reject and request again: what every surface (REST, CLI, Slack, Discord) does
with a step waiting for approval. The actor is the authenticated firebell user (a chat
click maps a verified interaction to one; None: linked to nobody).

Permission is checked here, at every decision, against the config at this instant (an
`oncall:` approver is whoever is on call now). A decision is stored once per person and
request hash (a second click answers "already"), goes on the timeline with who, when,
where from, and makes the run due now: the runner decides the step's outcome
(playbooks.approval_rules.outcome) and moves it on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select, update

from playbooks import approval_rules, approval_store, run_store
from playbooks.catalog import Catalog
from playbooks.model import Approval
from routing.paging.policy import PolicyConfig
from routing.storage.timeline import add_timeline

AWAITING = "awaiting_approval"
NEVER = datetime.max.replace(tzinfo=UTC)


class ApprovalRefused(ValueError):
    """Why a decision was not taken; `status` as REST answers it (403 not permitted,
    404 unknown run or step, 409 nothing awaits approval / expired / decided otherwise)."""

    def __init__(self, field: str, message: str, status: int) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class Gate:
    """A step waiting for approval, as read under the run's lock."""

    run: Mapping[str, Any]
    step: Mapping[str, Any]
    rule: Approval


def approval_of(catalog: Catalog, run: Mapping[str, Any], step: Mapping[str, Any]) -> Approval:
    """The step's `approval:` in the playbook as loaded now (the runner voids a request
    the file changed under, so deciding on the current rule is deciding on what runs)."""
    playbook = catalog.get(run["playbook"])
    if playbook is None or step["position"] >= len(playbook.spec.steps):
        raise ApprovalRefused("run_id", f"playbook {run['playbook']} is no longer loaded", 409)
    spec = playbook.spec.steps[step["position"]]
    if spec.id != step["step_id"] or spec.approval is None:
        raise ApprovalRefused(
            "step", f'step "{step["step_id"]}" no longer asks for an approval', 409
        )
    return spec.approval


def find_gate(
    conn: Connection, catalog: Catalog, run_id: int, step_id: str | None, lock: bool
) -> Gate:
    """The run's step awaiting approval (the named one, or the first); ApprovalRefused."""
    query = select(run_store.RUN).where(run_store.RUN.c.id == run_id)
    row = conn.execute(query.with_for_update() if lock else query).mappings().first()
    if row is None:
        raise ApprovalRefused("run_id", f"playbook run {run_id} not found", 404)
    run = run_store.get_run(conn, run_id)
    assert run is not None
    steps = run["steps"]
    if step_id is not None:
        named = [s for s in steps if s["step_id"] == step_id]
        if not named:
            raise ApprovalRefused("step", f'playbook run {run_id} has no step "{step_id}"', 404)
        steps = named
    waiting = next((s for s in steps if s["status"] == AWAITING), None)
    if waiting is None:
        if run["status"] != "running":
            raise ApprovalRefused("run_id", f"playbook run {run_id} has {run['status']}", 409)
        what = f'step "{step_id}"' if step_id else f"playbook run {run_id}"
        now_at = f" (it is {steps[0]['status']})" if step_id else ""
        raise ApprovalRefused("step", f"nothing awaits approval in {what}{now_at}", 409)
    return Gate(run, waiting, approval_of(catalog, run, waiting))


def decide(
    conn: Connection,
    catalog: Catalog,
    people: PolicyConfig,
    *,
    run_id: int,
    step_id: str | None,
    actor: str | None,
    decision: str,
    surface: str,
    comment: str,
    now: datetime,
) -> dict[str, Any]:
    """Check and record one decision in the caller's transaction; what it did."""
    gate = find_gate(conn, catalog, run_id, step_id, lock=True)
    run, step, rule = gate.run, gate.step, gate.rule
    cancelling = run["cancel_requested_by"]
    if cancelling is not None:
        raise ApprovalRefused(
            "run_id", f"playbook run {run_id} is being cancelled by {cancelling}", 409
        )
    expires_at = step["approval_expires_at"]
    if expires_at is not None and now >= expires_at:
        raise ApprovalRefused(
            "step",
            f'the approval request for step "{step["step_id"]}" expired at '
            f"{expires_at.isoformat()}; request again to start a new run",
            409,
        )
    ok, reason = approval_rules.permitted(actor, rule, run["started_by"], now, people)
    if not ok or actor is None:
        raise ApprovalRefused("actor", reason, 403)
    recorded = approval_store.record(
        conn, step_row_id=step["id"], approver=actor, decision=decision, surface=surface,
        at=now, request_hash=step["request_hash"], comment=comment,
    )  # fmt: skip
    if recorded.decision != decision:
        raise ApprovalRefused(
            "decision",
            f"{actor} already {recorded.decision} this request at {recorded.at.isoformat()}",
            409,
        )
    rows = approval_store.decisions(conn, step["id"])
    far = expires_at or NEVER  # the runner sets the expiry when it asks
    approved_by, required = approval_rules.tally(
        rule, rows, run["started_by"], step["request_hash"], far
    )
    result = {
        "run_id": run_id,
        "step_id": step["step_id"],
        "decision": decision,
        "approver": actor,
        "already": not recorded.new,
        "approved_by": approved_by,
        "required": required,
        "outcome": approval_rules.outcome(
            rule, rows, run["started_by"], step["request_hash"], now, far
        ),
        "request_hash": step["request_hash"],
    }
    if recorded.new:
        _on_timeline(conn, run, step, result, surface, comment, now)
        # The runner moves the step on at its next pass: make that pass now.
        conn.execute(
            update(run_store.RUN)
            .where(run_store.RUN.c.id == run_id, run_store.RUN.c.status == "running")
            .values(due_at=now)
        )
    return result


def decision_text(result: Mapping[str, Any]) -> str:
    """ "step hotfix of run 3: approved by alice (1 of 2 approvals)", or "...: already
    approved by you (...)"."""
    where = f"step {result['step_id']} of run {result['run_id']}"
    if result["already"]:
        return (
            f"{where}: already {result['decision']} by you "
            f"({len(result['approved_by'])} of {result['required']} approvals)"
        )
    text = f"{where}: {result['decision']} by "
    text += result["approver"]
    if result["decision"] == "approved":
        text += f" ({len(result['approved_by'])} of {result['required']} approvals)"
    return text


def _on_timeline(
    conn: Connection,
    run: Mapping[str, Any],
    step: Mapping[str, Any],
    result: Mapping[str, Any],
    surface: str,
    comment: str,
    now: datetime,
) -> None:
    message = f"playbook {run['playbook']}: {decision_text(result)} via {surface}"
    if comment:
        message += f": {comment}"
    add_timeline(
        conn, run["incident_id"], now, "playbook_approval", message, actor=result["approver"],
        data={
            "run_id": run["id"], "playbook": run["playbook"], "step_id": step["step_id"],
            "decision": result["decision"], "approver": result["approver"], "surface": surface,
            "at": now.isoformat(), "request_hash": step["request_hash"], "comment": comment,
            "approved_by": result["approved_by"], "required": result["required"],
        },
    )  # fmt: skip


def expired_step(run: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The step whose approval expired (what "request again" asks for anew)."""
    return next((s for s in run["steps"] if s["status"] == "expired"), None)


def again_params(run: Mapping[str, Any]) -> dict[str, str]:
    """The run's params as given text, for starting the same run again."""
    return {name: _text(value) for name, value in run["params"].items()}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
