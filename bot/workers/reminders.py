"""Silence reminders, the paging worker's part: queue the ones due in each pass (the
outbox delivers them like pages), and say once per silence when one has nowhere to go."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from routing.paging.silence_reminder import reminder_key
from routing.paging.silence_reminder_store import queue_reminders
from routing.storage.database import is_unavailable

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger("firebell.paging")


class Reminders:
    def __init__(self, settings: Settings, lead: timedelta) -> None:
        self.settings = settings
        self.lead = lead  # how long before a silence ends it is reminded
        self._unreachable_logged: set[str] = set()  # silences said to have nowhere to go

    def queue(self, conn: Connection, now: datetime) -> int:
        """Queue the silence reminders due at `now`; a failure here is logged and must
        not hold up pages (an unavailable database stops the whole pass as before)."""
        try:
            with conn.begin_nested():  # a savepoint: a failure here undoes only this
                queued = queue_reminders(conn, self.settings, now, self.lead)
        except Exception as exc:
            if is_unavailable(exc):
                raise
            log.exception("queueing silence reminders failed")
            return 0
        for reminder in queued.reminders:
            log.info(
                "silence %s ends at %s: reminder queued for %s",
                reminder.silence.id,
                reminder.silence.ends_at,
                reminder.via,
            )
        for silence in queued.unreachable:
            assert silence.id is not None and silence.ends_at is not None
            key = reminder_key(silence.id, silence.ends_at, "")
            if key not in self._unreachable_logged:  # once per silence and end, not per pass
                self._unreachable_logged.add(key)
                log.warning(
                    "silence %s by %s ends at %s: no channel to remind (%s is in no team with "
                    "channels and the root route has none)",
                    silence.id,
                    silence.created_by,
                    silence.ends_at,
                    silence.created_by,
                )
        return len(queued.reminders)
