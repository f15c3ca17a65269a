"""Running due escalation steps: page a step's targets, wait, move on; stop once the
incident is acknowledged or resolved; pause while every alert of it is muted.

Concurrency: due escalations are claimed with `FOR UPDATE OF escalation SKIP LOCKED`
and their incidents then held with `FOR KEY SHARE SKIP LOCKED` (PostgreSQL), so a worker
never waits on a lock held by an ack or an ingest, two replicas never run one step, and
an incident being acknowledged (FOR UPDATE) is left for the next pass. KEY SHARE is the
lock the pages' and timeline's foreign keys take anyway, so holding it first means the
step never waits on the incident half-way (an ack waiting on our escalation row while we
waited on its incident row would be a deadlock); it does not conflict with FOR NO KEY
UPDATE. A step's pages, its timeline entry and the move to the next step commit together.
On SQLite, BEGIN IMMEDIATE serializes all of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from routing.paging.escalation import Recipient, resolve_targets
from routing.paging.escalation_store import ESCALATION, INCIDENT, NOTIFICATION, TIMELINE
from routing.paging.incident_triage import IncidentTriages
from routing.paging.policy import PolicyConfig
from routing.paging.triage import (
    StepDecision,
    StepKind,
    Triage,
    decide_step,
    describe_reach,
    next_step,
    notification_step_text,
    page_key,
)
from routing.storage.timeline import timeline_row

# What mutes an incident now and when to look again (IncidentTriages.mute).
Mute = tuple[Triage, datetime]


@dataclass(frozen=True, slots=True)
class StepReport:
    """What one due escalation did, for logs, metrics and tests."""

    escalation_id: int
    incident_id: int
    policy: str
    kind: StepKind
    label: str = ""
    recipients: tuple[Recipient, ...] = ()
    finished: bool = False


def run_due_escalations(
    conn: Connection, config: PolicyConfig, now: datetime, limit: int = 100
) -> list[StepReport]:
    """Run every escalation step due at `now` (up to `limit`) in the caller's transaction."""
    due = conn.execute(
        select(
            ESCALATION.c.id,
            ESCALATION.c.incident_id,
            ESCALATION.c.policy,
            ESCALATION.c.pass_no,
            ESCALATION.c.step_no,
            ESCALATION.c.due_at,
            ESCALATION.c.updated_at,
            ESCALATION.c.paused_at,
            ESCALATION.c.paused_reason,
        )
        .where(ESCALATION.c.state == "active", ESCALATION.c.due_at <= now)
        .order_by(ESCALATION.c.due_at, ESCALATION.c.id)
        .limit(limit)
        # Never wait: rows another replica holds are taken next time.
        .with_for_update(skip_locked=True)
    ).all()
    if not due:
        return []
    # The status as of the lock (a locking read sees the latest committed version).
    status = dict(
        conn.execute(
            select(INCIDENT.c.id, INCIDENT.c.status)
            .where(INCIDENT.c.id.in_(sorted({row.incident_id for row in due})))
            .with_for_update(read=True, key_share=True, skip_locked=True)
        ).all()
    )
    # Silences, inhibitions and time intervals may have started since paging began; a
    # step due the instant paging was decided (the first one, no group_wait) was just
    # triaged by that decision, so only the others are looked at again.
    recheck = sorted(
        {
            iid
            for row in due
            if status.get(iid := row.incident_id) == "triggered" and not _decided_for(row)
        }
    )
    triages = IncidentTriages(conn, config, now, recheck) if recheck else None
    mutes = {iid: triages.mute(iid) for iid in recheck} if triages else {}
    writes = _StepWrites()
    reports = [
        _run_step(
            writes,
            config,
            SimpleNamespace(**row._asdict(), status=status[iid]),
            now,
            mutes.get(iid),
        )
        for row in due
        if (iid := row.incident_id) in status  # else being acknowledged: next pass
    ]
    writes.flush(conn)
    return reports


def _decided_for(row: Any) -> bool:
    """True for a first step due at the very instant its routing decision wrote it."""
    fresh = row.pass_no == 0 and row.step_no == 0 and row.paused_at is None
    return bool(fresh and row.due_at == row.updated_at)


@dataclass
class _StepWrites:
    """A pass's step writes, sent as a few statements at the end instead of four per
    step: every statement is a round trip, and on a busy server each costs a wait for
    the GIL too."""

    pages: list[dict[str, Any]] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    advanced: list[dict[str, Any]] = field(default_factory=list)
    paused: list[dict[str, Any]] = field(default_factory=list)
    finished: list[dict[str, Any]] = field(default_factory=list)

    def note(self, incident_id: int, now: datetime, kind: str, message: str, data: Any) -> None:
        self.timeline.append(timeline_row(incident_id, now, kind, message, data=data))

    def flush(self, conn: Connection) -> None:
        # As executemany (a list of parameter sets), not one multi-row VALUES: a statement
        # whose shape depends on the row count is compiled anew on every pass, which cost
        # more than running it; the driver batches the rows (no parameter limit to mind).
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        if self.pages:
            conn.execute(dialect.insert(NOTIFICATION).on_conflict_do_nothing(), self.pages)
        if self.timeline:
            conn.execute(insert(TIMELINE), self.timeline)
        by_id = ESCALATION.c.id == bindparam("escalation_id")
        if self.advanced:
            advance = update(ESCALATION).where(by_id)
            conn.execute(advance, self.advanced)
        if self.paused:
            conn.execute(update(ESCALATION).where(by_id), self.paused)
        if self.finished:
            finish = update(ESCALATION).where(by_id)
            conn.execute(finish, self.finished)


def _run_step(
    writes: _StepWrites, config: PolicyConfig, row: Any, now: datetime, mute: Mute | None
) -> StepReport:
    policy = config.escalation_policies_by_name.get(row.policy)
    muted_by = mute[0] if mute else None
    decision = decide_step(policy, row.policy, row.pass_no, row.step_no, row.status, muted_by)
    report = StepReport(row.id, row.incident_id, row.policy, decision.kind, decision.label)
    if decision.kind is StepKind.PAUSE:
        assert mute is not None
        _pause(writes, row, now, decision, until=mute[1])
        return report
    if decision.kind is StepKind.STOP:
        _finish(writes, row, now, "stopped", decision.reason, f"escalation {row.policy} stopped")
        return report
    if decision.kind is StepKind.DONE:
        _finish(writes, row, now, "done", decision.reason, f"escalation {row.policy} finished")
        return report
    assert policy is not None
    if row.paused_at is not None:
        writes.note(
            row.incident_id,
            now,
            "escalation_resumed",
            f"escalation {row.policy} resumed: nothing mutes the incident now "
            f"(paused since {row.paused_at:%Y-%m-%d %H:%M} UTC: {row.paused_reason})",
            data={"escalation_id": row.id, "policy": row.policy},
        )
    recipients, problem = step_recipients(config, decision.targets, now)
    writes.pages += [_page_row(row, r, decision.label, now) for r in recipients]
    text = f"{decision.label}: {describe_reach(recipients)}" + (f" ({problem})" if problem else "")
    writes.note(
        row.incident_id,
        now,
        "escalation_step",
        text,
        data={
            "escalation_id": row.id,
            "policy": row.policy,
            "pass": row.pass_no + 1,
            "step": row.step_no + 1,
            "recipients": sorted({r.name for r in recipients}),
        },
    )
    following = next_step(policy, row.pass_no, row.step_no, now, reached=bool(recipients))
    if following is None:
        passes = policy.repeat + 1
        _finish(
            writes,
            row,
            now,
            "done",
            f"nobody acknowledged after {passes} pass{'es' if passes != 1 else ''}",
            f"escalation {row.policy} finished",
        )
        return StepReport(
            row.id, row.incident_id, row.policy, decision.kind, decision.label,
            tuple(recipients), finished=True,
        )  # fmt: skip
    writes.advanced.append(
        {
            "escalation_id": row.id,
            "pass_no": following.pass_no,
            "step_no": following.step_no,
            "due_at": following.due_at,
            "updated_at": now,
            "paused_at": None,
            "paused_reason": None,
        }
    )
    return StepReport(
        row.id, row.incident_id, row.policy, decision.kind, decision.label, tuple(recipients)
    )


def _pause(
    writes: _StepWrites, row: Any, now: datetime, decision: StepDecision, until: datetime
) -> None:
    """Wait until `until` (a silence's end, else a re-check), saying so once per reason."""
    writes.paused.append(
        {
            "escalation_id": row.id,
            "due_at": until,
            "paused_at": row.paused_at or now,
            "paused_reason": decision.reason[:500],
            "updated_at": now,
        }
    )
    if row.paused_reason != decision.reason[:500]:
        writes.note(
            row.incident_id,
            now,
            "escalation_paused",
            f"escalation {row.policy} paused before {decision.label}: {decision.reason}",
            data={"escalation_id": row.id, "policy": row.policy, "until": until.isoformat()},
        )


def step_recipients(
    config: PolicyConfig, targets: Iterable[str], now: datetime
) -> tuple[list[Recipient], str | None]:
    """Who a step's targets reach at `now`, one entry per address; a target a config
    reload removed is reported, not fatal. Public for `firebell simulate`."""
    found: list[Recipient] = []
    problems = []
    for target in targets:
        try:
            found += resolve_targets(
                [target],
                now,
                config.users_by_name,
                config.teams_by_name,
                config.schedules_by_name,
            )
        except KeyError as exc:
            problems.append(str(exc.args[0]) if exc.args else str(exc))
    unique: dict[str, Recipient] = {}
    for recipient in found:
        unique.setdefault(recipient.address, recipient)  # one page per address per step
    return list(unique.values()), "; ".join(problems) or None


def _page_row(row: Any, recipient: Recipient, label: str, now: datetime) -> dict[str, Any]:
    return {
        "incident_id": row.incident_id,
        "escalation_id": row.id,
        "dedup_key": page_key(row.id, row.pass_no, row.step_no, recipient.address),
        "kind": "page",
        "address": recipient.address,
        "recipient": recipient.name[:200],
        "via": recipient.via[:200],
        "policy": row.policy,
        "step": notification_step_text(label),
        "created_at": now,
        "first_due_at": now,
        "next_attempt_at": now,
    }


def _finish(
    writes: _StepWrites, row: Any, now: datetime, state: str, reason: str, what: str
) -> None:
    writes.finished.append(
        {
            "escalation_id": row.id,
            "state": state,
            "reason": reason[:500],
            "finished_at": now,
            "updated_at": now,
        }
    )
    kind = "escalation_stopped" if state == "stopped" else "escalation_done"
    writes.note(
        row.incident_id,
        now,
        kind,
        f"{what}: {reason}",
        data={"escalation_id": row.id, "policy": row.policy},
    )
