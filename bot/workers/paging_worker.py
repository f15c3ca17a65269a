"""The paging worker in `firebell serve`: runs due escalation steps and delivers the outbox.

Everything it works from is rows, so a restart (or another replica) resumes where a
crashed process stopped. It wakes as soon as the intake commits a new incident (the
writer thread calls `loop.call_soon_threadsafe`), and otherwise polls every second for
work other replicas scheduled, or sleeps exactly until the next step or retry is due.

A pass is one transaction (run due steps, queue reminders, claim); its sends run on in
the background while the next pass claims, up to `batch` rows in flight, and their
results are stored together, one transaction for whatever finished meanwhile. A new
incident's first pages are claimed in its ingest transaction (bot.workers.paging_handoff)
and need no pass.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import uuid
from collections.abc import Coroutine, Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Connection, select

from bot.runtime.heartbeats import Heartbeat
from bot.runtime.state import Runtime
from bot.workers.commit_watch import CommitWatch
from bot.workers.delivery_results import ResultRecorder
from bot.workers.follow_ups import FollowUps
from bot.workers.loop_control import stop_loop_task, wake_loop
from bot.workers.notifier_call import send_in_slot
from bot.workers.paging_delivery import LinkSettings, after_delivery, message_for
from bot.workers.paging_handoff import HandOff, page_in_ingest, small_batch
from bot.workers.paging_metrics import PagingMetrics
from bot.workers.reminders import Reminders
from integrations.notifiers import (
    DeliveryResult,
    HttpPool,
    Notifier,
    build_notifiers,
    notifier_for,
)
from routing.basics.redact import scrub_url
from routing.intake.submission import BatchOutcome
from routing.paging.bundle_store import run_bundling
from routing.paging.escalation_steps import StepReport, run_due_escalations
from routing.paging.escalation_store import ESCALATION, start_paging
from routing.paging.outbox import (
    Claimed,
    claim_due,
    next_due,
)
from routing.paging.silence_reminder import DEFAULT_LEAD
from routing.storage.database import is_unavailable

log = logging.getLogger("firebell.paging")
PAGING = "paging worker"  # its heartbeat's name, as /readyz reports it


@dataclass(frozen=True, slots=True)
class RunSummary:
    steps: list[StepReport]
    delivered: list[tuple[int, str]]  # (notification id, sent / retry / failed / lost)
    next_due_at: datetime | None  # the earliest step or retry still waiting
    busy: bool  # a batch was full: run again at once
    reminders: int = 0  # silence reminders queued by this pass (one per channel)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class PagingWorker:
    def __init__(
        self,
        rt: Runtime,
        *,
        notifiers: Mapping[str, Notifier] | None = None,
        # Steps run, rows claimed and sends in flight per pass; near the intake's batch
        # (512), so under a storm the worker keeps pace with it turn for turn.
        batch: int = 500,
        poll_interval: float = 1.0,
        claim_for: timedelta = timedelta(seconds=60),
        concurrency: int = 32,
        rng: random.Random | None = None,
        background: bool = True,
        metrics: PagingMetrics | None = None,
        reminder_lead: timedelta = DEFAULT_LEAD,
    ) -> None:
        self.rt = rt
        self.id = worker_id()
        self.batch = batch
        self.poll_interval = poll_interval
        self.claim_for = claim_for
        self.rng = rng or random.Random()
        self.background = background  # False: no loop; the caller runs run_once(now)
        self.metrics = metrics or PagingMetrics(rt.metrics.registry)
        self.reminders = Reminders(rt.settings, reminder_lead)
        self.results = ResultRecorder(rt.engine, self.id)
        self.follow_ups = FollowUps(rt, timedelta(seconds=poll_interval), batch)
        self._notifiers: Mapping[str, Notifier] | None = notifiers
        self._http: httpx.AsyncClient | None = None
        self._send_slots = asyncio.Semaphore(concurrency)
        self._in_flight: set[asyncio.Task[tuple[int, str]]] = set()  # background deliveries
        self._full = False  # the last pass claimed all it had room for
        self._wake = asyncio.Event()
        self._batch_routed = False  # the intake batch being committed queued paging work
        self._handoff: HandOff | None = None  # what that batch's transaction claimed here
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._watch: CommitWatch | None = None  # a worker beside an HTTP-only process
        self._stopping = False
        self._beat = Heartbeat(PAGING)  # registered with the runtime's once it runs
        settings = rt.settings
        chat = settings.slack or settings.discord
        self.links = LinkSettings(
            public_url=settings.public_url,
            chat_command=(settings.slack.command if settings.slack else "/incident")
            if chat
            else None,
        )

    # -- hooks (the intake's writer thread and the API call these) ----------------------
    def ingest_hook(self, conn: Connection, outcome: BatchOutcome, now: datetime) -> None:
        """In the ingest transaction: route, mute and start escalations for new incidents;
        with this worker running, also page them there (bot.workers.paging_handoff)."""
        self._batch_routed, self._handoff = False, None
        if outcome.incident_events:
            decided = start_paging(conn, outcome.incident_events, now, self.rt.settings)
            self._batch_routed = any(t.escalations or t.channels for _, t in decided)
            task, quiet = self._task, small_batch(outcome, len(self._in_flight))
            if self._batch_routed and quiet and task and not task.done() and not self._stopping:
                room = self.batch - len(self._in_flight)
                self._handoff = page_in_ingest(
                    conn, self.rt.settings, now, claimer=self.id, room=room,
                    limit=self.batch, claim_for=self.claim_for,
                )  # fmt: skip

    def committed_hook(self, outcome: BatchOutcome) -> None:
        # Wake only for work this batch queued: an idle pass still takes the database's
        # write lock, which a storm of unrouted incidents would otherwise queue behind.
        # (Both hooks run on the intake's writer thread, one batch after the other.)
        handoff, self._handoff = self._handoff, None
        if handoff is not None and self._loop is not None:
            with suppress(RuntimeError):  # the loop closed: the claims run out, then resent
                self._loop.call_soon_threadsafe(self._launch, handoff)
            return
        if self._batch_routed:
            self.wake()

    def _launch(self, handoff: HandOff) -> None:
        """On the loop: deliver what the ingest transaction claimed, as a pass would."""
        for report in handoff.steps:
            self.metrics.steps.labels(report.kind.value).inc()
        self._start_deliveries(self._deliver(c, handoff.now) for c in handoff.claimed)
        if handoff.pass_needed:
            self._wake.set()

    def incident_changed(self, incident_id: int, action: str) -> None:
        self.wake()

    def wake(self) -> None:
        """Thread-safe: run the worker now instead of at the next poll."""
        wake_loop(self._loop, self._wake)

    # -- lifecycle -----------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        if self._notifiers is None:
            # The process's one keep-alive pool (shared with the chat sync).
            pool = HttpPool.shared(self.rt.extras)
            self._http = pool.acquire()
            s = self.rt.settings
            self._notifiers = build_notifiers(
                s.slack.bot_token if s.slack else None,
                s.slack.api_url if s.slack else None,
                s.discord.bot_token if s.discord else None,
                s.discord.api_url if s.discord else None,
                self._http,
                unverified_http_client=pool.unverified,
                webhook_secrets=s.webhook_secrets,
            )
        if self.background:
            task = asyncio.create_task(self.run_forever(), name="firebell-paging")
            self._task = task
            # Beside `serve --no-workers`, whose intake cannot wake this process.
            self._watch = CommitWatch.for_worker(self.rt.engine, self.rt.role.http, self.wake)
            self._beat = self.rt.heartbeats.register(PAGING, lambda: not task.done())

    async def stop(self, grace: float = 5.0) -> None:
        """Let the pass and the deliveries in progress finish (a send cut off mid-way
        would be sent again once its claim runs out), then stop; cancel only after
        `grace` seconds."""
        self._stopping = True
        self._wake.set()
        self.rt.heartbeats.unregister(self._beat)
        until = asyncio.get_running_loop().time() + grace
        if self._watch is not None:
            await self._watch.stop()
            self._watch = None
        await stop_loop_task(self._task, grace)
        self._task = None
        if self._in_flight:
            left = max(until - asyncio.get_running_loop().time(), 0.0)
            _, late = await asyncio.wait(set(self._in_flight), timeout=left or None)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        if self._http is not None:
            await HttpPool.shared(self.rt.extras).release()
            self._http = None
            self._notifiers = None  # they used the pool, closed once nobody holds it
        self._loop = None

    async def run_forever(self) -> None:
        while not self._stopping:
            self._beat.stamp()  # each turn, busy or idle (polls at least every second)
            self._wake.clear()
            summary = None
            try:
                # Deliveries run on while the next pass claims: a page that comes due
                # while others are being sent is not held back until they are stored.
                summary, deliveries = await self._pass(
                    self.rt.clock(), self.batch - len(self._in_flight)
                )
                self._start_deliveries(deliveries)
            except Exception as exc:
                if is_unavailable(exc):
                    log.warning("paging paused, database unavailable: %s", exc.__class__.__name__)
                else:
                    log.exception("paging run failed")
            if summary is not None and summary.busy:
                continue
            timeout = self.poll_interval
            if summary is not None and summary.next_due_at is not None:
                until = (summary.next_due_at - self.rt.clock()).total_seconds()
                timeout = min(timeout, max(until, 0.0))
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def _start_deliveries(self, deliveries: Iterable[Coroutine[Any, Any, tuple[int, str]]]) -> None:
        for delivery in deliveries:
            task = asyncio.create_task(delivery)
            self._in_flight.add(task)
            task.add_done_callback(self._delivered)

    def _delivered(self, task: asyncio.Task[tuple[int, str]]) -> None:
        """A background delivery ended: report a failure to store its result (the row
        is sent again once its claim runs out) and make room for the next claim."""
        self._in_flight.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            if is_unavailable(exc):
                log.warning("paging paused, database unavailable: %s", exc.__class__.__name__)
            else:
                log.error("delivery failed", exc_info=exc)
        if self._full:
            self._full = False
            self._wake.set()

    # -- one pass ------------------------------------------------------------------
    async def run_once(self, now: datetime | None = None) -> RunSummary:
        """Run due steps, queue due silence reminders, then claim and deliver due
        notifications, all as of `now`."""
        summary, deliveries = await self._pass(now or self.rt.clock(), self.batch)
        delivered = await asyncio.gather(*deliveries)
        return replace(summary, delivered=list(delivered))

    async def _pass(
        self, at: datetime, room: int
    ) -> tuple[RunSummary, list[Coroutine[Any, Any, tuple[int, str]]]]:
        """Everything of a pass but the deliveries, which it returns (not started);
        at most `room` rows are claimed."""
        await self.follow_ups.maybe_run(at)  # first: a late escalation due now runs below
        steps, step_due, reminders, claimed, note_due = await asyncio.to_thread(
            self._prepare, at, room
        )
        dues = [d for d in (step_due, note_due) if d is not None]
        self._full = len(claimed) >= room
        busy = len(steps) >= self.batch or (room > 0 and len(claimed) >= room)
        summary = RunSummary(steps, [], min(dues) if dues else None, busy, reminders)
        return summary, [self._deliver(c, at) for c in claimed]

    def _prepare(
        self, now: datetime, room: int
    ) -> tuple[list[StepReport], datetime | None, int, list[Claimed], datetime | None]:
        """Steps, reminders and the claim in one transaction: on SQLite each write
        transaction waits its turn for the one lock, so one per pass, not three."""
        with self.rt.engine.begin() as conn:
            steps, step_due = self._run_steps(conn, now)
            reminders = self.reminders.queue(conn, now)
            # Pager storms: hold pages beyond a contact's rule, flush due bundles.
            bundle_due = run_bundling(conn, self.rt.settings.bundle_rules, now)
            claimed, note_due = self._claim(conn, now, room)
            if bundle_due is not None:
                note_due = min(note_due, bundle_due) if note_due is not None else bundle_due
        for report in steps:
            self.metrics.steps.labels(report.kind.value).inc()
        return steps, step_due, reminders, claimed, note_due

    def _run_steps(
        self, conn: Connection, now: datetime
    ) -> tuple[list[StepReport], datetime | None]:
        reports = run_due_escalations(conn, self.rt.settings, now, self.batch)
        due = conn.execute(
            select(ESCALATION.c.due_at)
            .where(ESCALATION.c.state == "active")
            .order_by(ESCALATION.c.due_at)
            .limit(1)
        ).scalar()
        return reports, due

    def _claim(
        self, conn: Connection, now: datetime, room: int
    ) -> tuple[list[Claimed], datetime | None]:
        claimed = claim_due(conn, now, self.id, room, self.claim_for) if room > 0 else []
        return claimed, next_due(conn)

    async def _deliver(self, claimed: Claimed, now: datetime) -> tuple[int, str]:
        row = claimed.row
        address: str = row["address"]
        assert self._notifiers is not None, "start() builds the notifiers"
        notifier = notifier_for(address, self._notifiers)
        kind = getattr(notifier, "kind", "unknown")
        try:
            # The row id, the same on every retry: a signed webhook's Idempotency-Key.
            notification = replace(
                message_for(claimed, self.links, now), delivery_key=str(row["id"])
            )
        except (ValueError, KeyError, TypeError) as exc:
            result = DeliveryResult.permanent(f"cannot build the message: {exc}")
        else:
            if row["attempts"] == 0:
                waited = (self.rt.clock() - row["first_due_at"]).total_seconds()
                self.metrics.latency.labels(kind).observe(max(waited, 0.0))
            # Finish well inside the claim, so no other claimer can start the same send.
            limit = self.claim_for.total_seconds() / 2
            result = await send_in_slot(self._send_slots, notifier, address, notification, limit)
        # Kept on the timeline and logged: never with the address's credentials in it.
        result = replace(result, detail=scrub_url(result.detail, address))
        applied = after_delivery(result, row["attempts"], now, rng=self.rng)
        recorded = await self.results.store(claimed, applied.values, applied.gave_up, now)
        self.metrics.notifications.labels(kind, applied.outcome).inc()
        if not recorded:
            log.warning("notification %s: claim lost before its result was stored", row["id"])
            return row["id"], "lost"
        if applied.outcome != "sent":
            log.warning("notification %s %s: %s", row["id"], applied.outcome, result.detail)
        return row["id"], applied.outcome


def install_paging(
    rt: Runtime,
    *,
    notifiers: Mapping[str, Notifier] | None = None,
    background: bool = True,
) -> PagingWorker:
    """Wire paging into a process: the intake hooks (every process that ingests routes its
    new incidents in the ingest transaction), the incident-changed hook, and, for a role
    that runs workers, the worker loop started and stopped with the process.

    Calling it again (before the process starts) replaces the worker: tests pass
    `background=False` (no loop; they call `worker.run_once(now)`) or their own
    `notifiers`. The hooks and the lifecycle always use the current worker.
    """
    previous: PagingWorker | None = rt.extras.get("paging")
    worker = PagingWorker(
        rt,
        notifiers=notifiers,
        background=background,
        metrics=previous.metrics if previous is not None else None,
    )
    rt.extras["paging"] = worker
    if previous is not None:
        return worker

    def current() -> PagingWorker:
        installed: PagingWorker = rt.extras["paging"]
        return installed

    rt.intake.in_transaction.append(
        lambda conn, outcome, now: current().ingest_hook(conn, outcome, now)
    )
    rt.intake.committed.append(lambda outcome: current().committed_hook(outcome))
    rt.extras.setdefault("incident_changed", []).append(
        lambda incident_id, action: current().incident_changed(incident_id, action)
    )

    # A role without workers only routes: another process (`firebell worker`) pages.
    if rt.role.workers:
        rt.lifecycle.add_service(lambda: current().start(), lambda: current().stop())
    return worker
