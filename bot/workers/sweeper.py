"""Resolves Nginx alerts after their quiet period: an error log never says "resolved"."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from bot.runtime.intake_writer import DatabaseUnavailable
from bot.runtime.state import Runtime
from routing.intake.ingest import quiet_alerts
from routing.intake.submission import Submission

log = logging.getLogger("firebell.sweeper")


def quiet_submission(rt: Runtime, now: datetime) -> Submission | None:
    """The synthetic resolves due at `now`, or None when nothing is quiet long enough."""
    quiet = rt.settings.sources.nginx.resolve_after
    with rt.engine.connect() as conn:
        alerts = quiet_alerts(conn, "nginx", now - quiet)
    if not alerts:
        return None
    return Submission(source="nginx", alerts=alerts, note=f"quiet for {quiet}")


async def sweep_once(rt: Runtime) -> int:
    submission = await asyncio.to_thread(quiet_submission, rt, rt.clock())
    if submission is None:
        return 0
    await rt.intake.submit(submission)
    log.info("resolved %d quiet nginx alerts", len(submission.alerts))
    return len(submission.alerts)


async def run_quiet_sweeper(rt: Runtime, interval: float = 15.0) -> None:
    while True:
        try:
            await sweep_once(rt)
        except (DatabaseUnavailable, OSError) as exc:
            log.warning("quiet sweep skipped: %s", exc)
        except Exception:
            log.exception("quiet sweep failed")
        await asyncio.sleep(interval)
