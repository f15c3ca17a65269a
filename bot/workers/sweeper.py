"""Resolves Nginx alerts after their quiet period: an error log never says "resolved".

The sweep reads candidates outside any transaction, then hands them to the intake
writer as one submission marked `quiet_before`: in the write transaction, with each
alert's identity row locked (PostgreSQL `FOR UPDATE`; SQLite holds its single write
lock), each resolve holds only if the alert is still firing and still not seen since
then. So a line that arrived after the read keeps its alert firing, and when several
replicas sweep at once (every process with workers runs a sweeper: `serve` without
`--no-workers`, and `firebell worker`) the first resolve wins and the others find the
alert resolved: one resolve, one resolved event.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from bot.runtime.intake_writer import IntakeUnavailable
from bot.runtime.state import Runtime
from routing.intake.dedup import DecisionKind
from routing.intake.ingest import quiet_alerts
from routing.intake.submission import Submission

log = logging.getLogger("firebell.sweeper")


def quiet_submission(rt: Runtime, now: datetime) -> Submission | None:
    """The synthetic resolves due at `now`, or None when nothing is quiet long enough."""
    quiet = rt.settings.sources.nginx.resolve_after
    cutoff = now - quiet
    # A read that need not wait for the writer: the resolve itself re-checks in the write
    # transaction that no line arrived since (quiet_before).
    with rt.read_engine.connect() as conn:
        alerts = quiet_alerts(conn, "nginx", cutoff)
    if not alerts:
        return None
    return Submission(source="nginx", alerts=alerts, note=f"quiet for {quiet}", quiet_before=cutoff)


async def sweep_once(rt: Runtime) -> int:
    """One sweep; returns how many alerts it resolved (not how many it found quiet)."""
    submission = await asyncio.to_thread(quiet_submission, rt, rt.clock())
    if submission is None:
        return 0
    outcome = await rt.intake.submit(submission)
    resolved = outcome.count(DecisionKind.RESOLVE)
    if resolved:
        log.info("resolved %d quiet nginx alerts", resolved)
    return resolved


def sweep_interval(resolve_after: timedelta) -> float:
    """Seconds between sweeps: a quarter of the quiet period, so an alert resolves at most
    25% late, within 0.2 s to 15 s (a sweep is one indexed query)."""
    return min(15.0, max(0.2, resolve_after.total_seconds() / 4))


async def run_quiet_sweeper(rt: Runtime) -> None:
    interval = sweep_interval(rt.settings.sources.nginx.resolve_after)
    while True:
        try:
            await sweep_once(rt)
        except (IntakeUnavailable, OSError) as exc:  # full, timed out, or database down
            log.warning("quiet sweep skipped: %s", exc)
        except Exception:
            log.exception("quiet sweep failed")
        await asyncio.sleep(interval)
