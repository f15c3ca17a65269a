"""The paging worker's follow-up pass, at most once per interval: page held incidents whose
mute ended, post channel updates and reminders (routing/follow_up_pass.py).

It runs before the escalation steps, so a late escalation due now pages in the same pass,
and it is throttled so the passes the intake wakes for new alerts stay short.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from bot.runtime.state import Runtime
from routing.paging.follow_up import FeedKind, ReleaseKind
from routing.paging.follow_up_pass import FollowUpReport, run_follow_ups
from routing.storage.database import is_unavailable

log = logging.getLogger("firebell.paging")


class FollowUps:
    def __init__(self, rt: Runtime, every: timedelta, batch: int = 100) -> None:
        self.rt = rt
        self.every = every
        self.batch = batch
        self._next: datetime | None = None  # the earliest instant the next pass may run

    async def maybe_run(self, now: datetime) -> FollowUpReport | None:
        if self._next is not None and now < self._next:
            return None
        self._next = now + self.every
        return await asyncio.to_thread(self.run, now)

    def run(self, now: datetime) -> FollowUpReport | None:
        """One pass in its own transaction; a bug here is logged and must not hold up
        pages (an unavailable database stops the whole worker pass, as elsewhere)."""
        try:
            with self.rt.engine.begin() as conn:
                report = run_follow_ups(conn, self.rt.settings, now, self.batch)
        except Exception as exc:
            if is_unavailable(exc):
                raise
            log.exception("paging follow-up pass failed")
            return None
        if len(report.holds) >= self.batch or len(report.feeds) >= self.batch:
            self._next = now  # more are due: do not wait for the interval
        for incident_id, kind, reason in report.holds:
            if kind is not ReleaseKind.KEEP:
                log.info("incident %s held from paging: %s (%s)", incident_id, kind.value, reason)
        for incident_id, feed_kind, reason in report.feeds:
            if feed_kind is FeedKind.POST:
                log.info("incident %s: %s", incident_id, reason)
        return report
