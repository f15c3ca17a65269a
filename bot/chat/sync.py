"""Keeps posted chat messages in step with their incident, whatever surface changed it.

After an ack, resolve, note or auto-resolve, every Slack and Discord message firebell
posted for the incident (the outbox keeps their `message_ref`) is edited in place and
the timeline entry goes into its thread. Hooks may fire on the event loop, in the API's
worker threads or in the intake's writer thread; all work is scheduled onto the loop
the app runs on and tracked, so shutdown and tests can wait for it (`drain`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Coroutine, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import Connection, select

from bot.runtime.state import Runtime
from bot.workers.paging_delivery import LinkSettings, notification_for
from integrations.notifiers import (
    ChatNotifier,
    HttpPool,
    Notification,
    Notifier,
    build_notifiers,
    kind_of,
)
from routing.intake.submission import BatchOutcome, IncidentEventKind
from routing.paging.outbox import ALERT, INCIDENT, MAX_ALERTS_PER_MESSAGE, NOTIFICATION, Claimed
from routing.storage.tables import TimelineEntry

log = logging.getLogger("firebell.chat")

TIMELINE = TimelineEntry.metadata.tables["timeline"]
CHAT_KINDS = ("slack", "discord")
# Changes whose timeline entry (of this kind) is also posted into the message's thread.
THREADED = {
    "ack": "acknowledged",
    "resolve": "resolved",
    "auto_resolve": "resolved",
    "reopen": "reopened",
    "note": "note",
    "silence": "silenced",
    "page": "paged",
}

# A message the current interaction came from ("slack" -> "C1:170.1"): it is edited too,
# even when the outbox did not post it (e.g. a `show` answer with buttons).
origin_refs: ContextVar[Mapping[str, str] | None] = ContextVar("origin_refs", default=None)
# Messages the current interaction edits itself in its answer (Discord's "update message"
# callback), as "kind:ref": not edited again, though the thread reply is still posted.
answered_refs: ContextVar[frozenset[str]] = ContextVar("answered_refs", default=frozenset())


@dataclass(frozen=True, slots=True)
class MessageRef:
    kind: str  # slack / discord
    ref: str  # "channel:ts" (Slack) or "channel_id:message_id" (Discord)
    row: Mapping[str, Any] | None = None  # the outbox row that posted it, when known


class Background:
    """Tracks fire-and-forget work so it can be awaited (tests, shutdown)."""

    def __init__(self) -> None:
        self._pending: set[asyncio.Future[Any]] = set()
        # Work scheduled from other threads (API workers, the intake writer).
        self._threaded: set[concurrent.futures.Future[Any]] = set()
        self._lock = threading.Lock()

    def track_threadsafe(self, future: concurrent.futures.Future[Any]) -> None:
        with self._lock:
            self._threaded.add(future)

        def done(f: concurrent.futures.Future[Any]) -> None:
            with self._lock:
                self._threaded.discard(f)
            if not f.cancelled() and f.exception() is not None:
                log.error("background chat work failed", exc_info=f.exception())

        future.add_done_callback(done)

    def track(self, future: asyncio.Future[Any]) -> None:
        self._pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: asyncio.Future[Any]) -> None:
        self._pending.discard(future)
        if not future.cancelled() and future.exception() is not None:
            log.error("background chat work failed", exc_info=future.exception())

    def current(self) -> None:
        """Track the running task (a chat listener started by the framework)."""
        task = asyncio.current_task()
        if task is not None:
            self.track(task)

    async def drain(self) -> None:
        """Wait until all tracked work, including work it started, has finished."""
        me = asyncio.current_task()
        while True:
            with self._lock:
                threaded = [asyncio.wrap_future(f) for f in self._threaded if not f.done()]
            waiting = [f for f in self._pending if f is not me and not f.done()] + threaded
            if not waiting:
                return
            await asyncio.gather(*waiting, return_exceptions=True)


class ChatSync:
    def __init__(
        self,
        rt: Runtime,
        links: LinkSettings,
        background: Background,
        notifiers: Mapping[str, Notifier] | None = None,
    ) -> None:
        self.rt = rt
        self.links = links
        self.background = background
        self._notifiers = notifiers
        self._http: httpx.AsyncClient | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        if self._notifiers is None:
            s = self.rt.settings
            self._http = HttpPool.shared(self.rt.extras).acquire()  # the process's pool
            built = build_notifiers(
                s.slack.bot_token if s.slack else None,
                s.slack.api_url if s.slack else None,
                s.discord.bot_token if s.discord else None,
                s.discord.api_url if s.discord else None,
                self._http,
            )
            self._notifiers = {k: v for k, v in built.items() if k in CHAT_KINDS}

    async def stop(self) -> None:
        await self.background.drain()
        if self._http is not None:
            await HttpPool.shared(self.rt.extras).release()
            self._http = None
        self.loop = None

    # -- hooks -----------------------------------------------------------------------
    def incident_changed(self, incident_id: int, action: str) -> None:
        """Hook for rt.extras["incident_changed"]: callable from any thread."""
        self._schedule(
            self.sync(incident_id, action, dict(origin_refs.get() or {}), answered_refs.get())
        )

    def committed_hook(self, outcome: BatchOutcome) -> None:
        """Intake hook: alerts resolving or reopening an incident change its messages too."""
        kinds = {IncidentEventKind.RESOLVED: "auto_resolve", IncidentEventKind.REOPENED: "reopen"}
        seen: set[int] = set()
        for event in outcome.incident_events:
            action = kinds.get(event.kind)
            if action and event.incident_id not in seen:
                seen.add(event.incident_id)
                self.incident_changed(event.incident_id, action)

    def schedule(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run `coro` on the chat loop, from any thread, tracked by the Background."""
        self._schedule(coro)

    def chat_notifier(self, kind: str) -> ChatNotifier | None:
        """The Slack or Discord notifier; None when that surface is not configured."""
        notifier = (self._notifiers or {}).get(kind)
        return notifier if isinstance(notifier, ChatNotifier) else None

    def _schedule(self, coro: Coroutine[Any, Any, None]) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None and (self.loop is None or running is self.loop):
            self.background.track(running.create_task(coro))
            return
        loop = self.loop
        if loop is None or loop.is_closed():
            coro.close()
            log.warning("chat messages not updated: the chat sync is not running")
            return
        self.background.track_threadsafe(asyncio.run_coroutine_threadsafe(coro, loop))

    # -- work ------------------------------------------------------------------------
    async def sync(
        self,
        incident_id: int,
        action: str,
        origins: Mapping[str, str] | None = None,
        answered: frozenset[str] = frozenset(),
    ) -> None:
        refs, incident, alerts, note = await asyncio.to_thread(self._load, incident_id, action)
        for kind, ref in (origins or {}).items():
            if all(r.ref != ref or r.kind != kind for r in refs):
                refs.append(MessageRef(kind, ref))
        if incident is None:
            return
        for message in refs:
            notifier = (self._notifiers or {}).get(message.kind)
            if not isinstance(notifier, ChatNotifier):
                continue
            if f"{message.kind}:{message.ref}" not in answered:
                notification = self.notification(message.row, incident, alerts)
                result = await notifier.update(message.ref, notification)
                if not result.ok:
                    log.warning(
                        "%s message %s not updated: %s", message.kind, message.ref, result.detail
                    )
            if note:
                await notifier.reply(message.ref, note)

    def notification(
        self,
        row: Mapping[str, Any] | None,
        incident: Mapping[str, Any],
        alerts: Sequence[Mapping[str, Any]],
    ) -> Notification:
        base = dict(row or {"policy": None, "step": None, "recipient": "", "kind": "channel"})
        return notification_for(
            Claimed(base, dict(incident), [dict(a) for a in alerts]), self.links, self.rt.clock()
        )

    async def render(
        self, incident_id: int, kind: str | None = None, ref: str | None = None
    ) -> Notification | None:
        """The incident as a message (keeping the outbox row's escalation facts for `ref`)."""
        refs, incident, alerts, _ = await asyncio.to_thread(self._load, incident_id, "")
        if incident is None:
            return None
        row = next((r.row for r in refs if r.kind == kind and r.ref == ref), None)
        return self.notification(row, incident, alerts)

    def _load(
        self, incident_id: int, action: str
    ) -> tuple[list[MessageRef], Mapping[str, Any] | None, list[Mapping[str, Any]], str | None]:
        with self.rt.engine.connect() as conn:
            return load_incident_messages(conn, incident_id, THREADED.get(action))


def load_incident_messages(
    conn: Connection, incident_id: int, note_kind: str | None = None
) -> tuple[list[MessageRef], Mapping[str, Any] | None, list[Mapping[str, Any]], str | None]:
    """The incident's posted chat messages, its row, its alerts, and its latest timeline
    line of `note_kind` (for the thread; None when no thread reply is wanted)."""
    incident = conn.execute(select(INCIDENT).where(INCIDENT.c.id == incident_id)).mappings().first()
    if incident is None:
        return [], None, [], None
    rows = conn.execute(
        select(NOTIFICATION)
        .where(
            NOTIFICATION.c.incident_id == incident_id,
            NOTIFICATION.c.status == "sent",
            NOTIFICATION.c.message_ref.is_not(None),
        )
        .order_by(NOTIFICATION.c.id)
    ).mappings()
    refs: list[MessageRef] = []
    for row in rows:
        kind = kind_of(row["address"])
        if kind in CHAT_KINDS and all(r.ref != row["message_ref"] for r in refs):
            refs.append(MessageRef(kind, row["message_ref"], dict(row)))
    alerts = list(
        conn.execute(
            select(ALERT)
            .where(ALERT.c.incident_id == incident_id)
            .order_by((ALERT.c.status == "resolved").asc(), ALERT.c.id)
            .limit(MAX_ALERTS_PER_MESSAGE)
        ).mappings()
    )
    note = None
    if note_kind is not None:
        last = conn.execute(
            select(TIMELINE.c.actor, TIMELINE.c.message)
            .where(TIMELINE.c.incident_id == incident_id, TIMELINE.c.kind == note_kind)
            .order_by(TIMELINE.c.id.desc())
            .limit(1)
        ).first()
        if last is not None:
            # "acknowledged by alice" already names who; a note needs its author.
            note = f"{last.actor}: {last.message}" if note_kind == "note" else last.message
    return refs, dict(incident), [dict(a) for a in alerts], note
