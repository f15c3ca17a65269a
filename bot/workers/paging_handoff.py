"""Paging a new incident in the transaction that opens it (`firebell serve`, workers on).

At 100 new alerts a second nearly every alert was a paging pass of its own: a second
write transaction (on SQLite queued behind the intake's for the one lock) whose fixed
statements cost more than the page. Instead the intake's writer thread runs the due
escalation steps (the same step runner, the same rows), the bundling decision and the
claim inside the ingest transaction, and the claimed rows go to this process's paging
worker in memory once that transaction commits. The claim is the ordinary lease: a
process that dies before storing a result leaves the row to any worker once it runs out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection

from routing.intake.submission import BatchOutcome
from routing.paging.bundle_store import run_bundling
from routing.paging.escalation_steps import StepReport, run_due_escalations
from routing.paging.outbox import Claimed, claim_due
from routing.paging.policy import PolicyConfig
from routing.storage.database import is_unavailable

log = logging.getLogger("firebell.paging")


@dataclass(frozen=True, slots=True)
class HandOff:
    """What the ingest transaction did for the worker, valid once it commits."""

    steps: list[StepReport]
    claimed: list[Claimed]
    now: datetime
    # The worker must still run a pass: a batch was full, or a bundle waits for a time
    # only the worker's pass computes.
    pass_needed: bool


# Hand off only while paging is quiet: a few new incidents in the batch and few sends in
# flight. In a storm the worker's passes, beside the intake, each claim hundreds of rows
# (measured: at 1,000 new incidents/s paging in the ingest transaction halved what the
# intake accepted), while at a steady trickle each alert was a pass of its own.
HANDOFF_MAX_EVENTS = 2
HANDOFF_MAX_IN_FLIGHT = 8


def small_batch(outcome: BatchOutcome, in_flight: int) -> bool:
    return len(outcome.incident_events) <= HANDOFF_MAX_EVENTS and in_flight < HANDOFF_MAX_IN_FLIGHT


def page_in_ingest(
    conn: Connection,
    config: PolicyConfig,
    now: datetime,
    *,
    claimer: str,
    room: int,
    limit: int,
    claim_for: timedelta,
) -> HandOff | None:
    """Run due steps, bundle and claim up to `room` rows for `claimer`, in a savepoint of
    the caller's (ingest) transaction; None (nothing done) when that failed, so an error
    here never fails the intake: the worker's pass does the same work."""
    if room <= 0:
        return None
    try:
        with conn.begin_nested():
            steps = run_due_escalations(conn, config, now, limit)
            bundle_due = run_bundling(conn, config.bundle_rules, now)
            claimed = claim_due(conn, now, claimer, room, claim_for)
    except Exception as exc:
        if is_unavailable(exc):
            raise
        log.exception("paging in the ingest transaction failed; left to the worker's pass")
        return None
    full = len(steps) >= limit or len(claimed) >= room
    return HandOff(steps, claimed, now, full or bundle_due is not None)
