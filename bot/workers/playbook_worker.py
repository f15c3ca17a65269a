"""The playbook worker in `firebell serve` / `firebell worker`: runs due playbook runs and
starts the `run: on_open` playbooks of incidents as they open.

Runs are rows (playbooks.run_store), so a restart or another replica resumes them. The
loop polls every second (a read first, so an idle worker never takes SQLite's write
lock), claims due runs and advances each in its own task, so a slow step never stalls
the loop's heartbeat (/readyz). on_open: the intake's committed hook queues the
incidents a batch OPENED and wakes the loop, which creates their runs (once per incident
and playbook: the run's `once_key`, so a repeat, a reopen or a second replica never
starts another); a scan of the incidents opened in the last hour, at start and every
30 s, starts what a crash between the commit and the hook left behind.

Reload: every 5 s the worker hashes the playbook files; when one changed (or was added
or removed) it loads the folder again and, if it loads, runs with the new catalog (a
file that does not load is logged and the old catalog stays). Runs awaiting approval are
made due, so a changed request voids its approval at once; and before an approved step
runs, the approval gate compares its file on disk with the loaded one and reloads first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import select

from bot.runtime.heartbeats import Heartbeat
from bot.runtime.state import Runtime
from bot.workers.loop_control import stop_loop_task, wake_loop
from bot.workers.paging_worker import worker_id
from integrations.outbound import Outbound
from playbooks import remote_store, run_store
from playbooks.catalog import Catalog, PlaybookErrors, folder_fingerprint
from playbooks.incident_view import INCIDENT, incident_view
from playbooks.params import ParamError, resolve_params
from playbooks.runner import Runner
from playbooks.service import PlaybookService
from routing.intake.submission import BatchOutcome, IncidentEventKind
from routing.storage.database import is_unavailable

log = logging.getLogger("firebell.playbooks")
PLAYBOOKS = "playbook worker"  # its heartbeat's name, as /readyz reports it
CATCH_UP = timedelta(hours=1)
# Later scans look back this far past the previous one: commits land out of clock order.
SCAN_OVERLAP = timedelta(minutes=2)


def once_key(incident_id: int, playbook: str) -> str:
    return f"on_open:{incident_id}:{playbook}"


class PlaybookWorker:
    def __init__(
        self,
        rt: Runtime,
        catalog: Catalog,
        runner: Runner,
        *,
        runs: bool = True,
        poll_interval: float = 1.0,
        scan_interval: float = 30.0,
        concurrency: int = 16,
        reload_interval: float = 5.0,
    ) -> None:
        self.rt = rt
        self.catalog = catalog
        self.runner = runner
        self.runs = runs  # False: only start on_open runs (serve --no-workers)
        self.id = worker_id()[:64]
        self.poll_interval = poll_interval
        self.scan_interval = scan_interval
        self.concurrency = concurrency
        self.on_open = [p for p in catalog.playbooks.values() if p.spec.run == "on_open"]
        self.reload_interval = reload_interval
        self.service: PlaybookService | None = None  # given the reloaded catalog too
        self._fingerprint = folder_fingerprint(rt.settings.playbook_folder())
        self._opened: deque[int] = deque()  # appended by the intake's writer thread
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._beat = Heartbeat(PLAYBOOKS)
        self._scanned_at: datetime | None = None

    # -- hooks (any thread) ----------------------------------------------------------
    def committed_hook(self, outcome: BatchOutcome) -> None:
        if not self.on_open:
            return
        opened = [
            e.incident_id for e in outcome.incident_events if e.kind == IncidentEventKind.OPENED
        ]
        if opened:
            self._opened.extend(opened)
            self.wake()

    def wake(self) -> None:
        """Thread-safe: run the loop now instead of at the next poll."""
        wake_loop(self._loop, self._wake)

    def reload_catalog(self) -> bool:
        """Load the playbooks again if a file changed since the last load; True when the
        runner, the service and on_open now use a new catalog."""
        fingerprint = folder_fingerprint(self.rt.settings.playbook_folder())
        if fingerprint == self._fingerprint:
            return False
        self._fingerprint = fingerprint  # a broken file is reported once, not every check
        try:
            catalog = self.rt.settings.load_playbooks()
        except PlaybookErrors as exc:
            log.warning("playbooks changed but do not load; still running the old ones:\n%s", exc)
            return False
        self.catalog = catalog
        self.on_open = [p for p in catalog.playbooks.values() if p.spec.run == "on_open"]
        self.runner.use_catalog(catalog)
        if self.service is not None:
            self.service.catalog = catalog
            self.service.redactor = self.runner.redactor
        self.rt.extras["playbook_catalog"] = catalog
        with self.rt.engine.begin() as conn:
            remote_store.wake_awaiting(conn, self.rt.clock())
        log.info("playbooks reloaded: %s", ", ".join(sorted(catalog.playbooks)) or "none")
        self.wake()
        return True

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        task = asyncio.create_task(self.run_forever(), name="firebell-playbooks")
        self._task = task
        self._beat = self.rt.heartbeats.register(PLAYBOOKS, lambda: not task.done())

    async def stop(self, grace: float = 5.0) -> None:
        """Let steps in flight finish for `grace` seconds; a step cut off is left
        `running` and its run let go, so the next worker resumes it at once."""
        self._stopping = True
        self._wake.set()
        self.rt.heartbeats.unregister(self._beat)
        await stop_loop_task(self._task, grace)
        self._task = None
        if self._in_flight:
            _, late = await asyncio.wait(set(self._in_flight.values()), timeout=grace)
            cut = [run_id for run_id, task in self._in_flight.items() if task in late]
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
            with suppress(Exception):
                await asyncio.to_thread(self._release, cut)
        await self.runner.io.outbound.aclose()
        self._loop = None

    def _release(self, run_ids: list[int]) -> None:
        with self.rt.engine.begin() as conn:
            for run_id in run_ids:
                run_store.release(conn, run_id, self.id)

    async def run_forever(self) -> None:
        next_scan = 0.0
        next_reload = time.monotonic() + self.reload_interval
        while not self._stopping:
            self._beat.stamp()
            self._wake.clear()
            due: datetime | None = None
            try:
                if time.monotonic() >= next_reload:
                    await asyncio.to_thread(self.reload_catalog)
                    next_reload = time.monotonic() + self.reload_interval
                if self.on_open and time.monotonic() >= next_scan:
                    await self.catch_up()
                    next_scan = time.monotonic() + self.scan_interval
                await self.start_opened()
                if self.runs:
                    due = await self.run_pass()
            except Exception as exc:
                if is_unavailable(exc):
                    log.warning("playbooks paused, database unavailable: %s", type(exc).__name__)
                else:
                    log.exception("playbook pass failed")
            timeout = self.poll_interval
            if due is not None:
                timeout = min(timeout, max((due - self.rt.clock()).total_seconds(), 0.05))
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    # -- runs ------------------------------------------------------------------------
    async def run_pass(self) -> datetime | None:
        """Claim what is due (room permitting) and advance each in its own task; when
        the next run comes due."""
        room = self.concurrency - len(self._in_flight)
        due = await asyncio.to_thread(self._next_due)
        if room <= 0 or due is None or due > self.rt.clock():
            return due
        for run_id in await self.runner.claim(self.id, room):
            if run_id in self._in_flight:
                continue  # re-claimed as its lease ran out mid-write: its task goes on
            task = asyncio.create_task(self.runner.advance(run_id, self.id))
            self._in_flight[run_id] = task
            task.add_done_callback(partial(self._advanced, run_id))
        return None

    def _next_due(self) -> datetime | None:
        with self.rt.read_engine.connect() as conn:
            return run_store.next_due(conn)

    def _advanced(self, run_id: int, _task: object) -> None:
        self._in_flight.pop(run_id, None)
        self._wake.set()  # room for another run, and its next step may be due

    # -- on_open ---------------------------------------------------------------------
    async def start_opened(self) -> list[int]:
        """Start the on_open runs of the incidents the intake reported opened."""
        opened: list[int] = []
        while self._opened:
            opened.append(self._opened.popleft())
        if not opened:
            return []
        return await asyncio.to_thread(self._start_for, sorted(set(opened)))

    async def catch_up(self) -> list[int]:
        """Start what the hook missed: incidents opened in the last hour (at start), then
        since the previous scan, not resolved."""
        now = self.rt.clock()
        since = now - CATCH_UP
        if self._scanned_at is not None:
            since = max(since, self._scanned_at - SCAN_OVERLAP)
        incidents = await asyncio.to_thread(self._recent, since)
        self._scanned_at = now
        return await asyncio.to_thread(self._start_for, incidents) if incidents else []

    def _recent(self, since: datetime) -> list[int]:
        with self.rt.read_engine.connect() as conn:
            query = (
                select(INCIDENT.c.id)
                .where(INCIDENT.c.created_at >= since, INCIDENT.c.status != "resolved")
                .order_by(INCIDENT.c.id)
                .limit(1000)
            )
            return list(conn.execute(query).scalars())

    def _start_for(self, incident_ids: list[int]) -> list[int]:
        """Create the runs of the on_open playbooks matching each incident (once each)."""
        wanted = {once_key(i, p.id) for i in incident_ids for p in self.on_open}
        with self.rt.read_engine.connect() as conn:
            taken = run_store.taken_once_keys(conn, sorted(wanted))
            todo = [
                i for i in incident_ids if any(once_key(i, p.id) not in taken for p in self.on_open)
            ]
            views = [v for i in todo if (v := incident_view(conn, i, self.rt.settings.public_url))]
        starts: list[tuple[int, Any, dict[str, Any]]] = []
        for view in views:
            for playbook in self.catalog.matching(view["labels"]):
                if playbook.spec.run != "on_open" or once_key(view["id"], playbook.id) in taken:
                    continue
                try:
                    params = resolve_params(playbook.spec.params, {})
                except ParamError as exc:
                    log.warning("on_open playbook %s not started: %s", playbook.id, exc)
                    continue
                starts.append((view["id"], playbook, params))
        if not starts:
            return []
        started = []
        with self.rt.engine.begin() as conn:
            for incident_id, playbook, params in starts:
                run_id = run_store.create_run(
                    conn,
                    incident_id=incident_id,
                    playbook=playbook,
                    params=params,
                    started_by="firebell",
                    trigger="on_open",
                    now=self.rt.clock(),
                    once_key=once_key(incident_id, playbook.id),
                )
                if run_id is not None:
                    started.append(run_id)
        if started:
            self.wake()
        return started


def install_playbooks(
    rt: Runtime, *, outbound: Outbound | None = None, runs: bool | None = None
) -> PlaybookWorker:
    """Wire playbooks into a process: the service every surface uses
    (rt.extras["playbook_service"]), the catalog, the wake hook, and, when playbooks are
    configured, for the roles that ingest or run workers, the worker (on_open starts;
    runs only with workers).

    Call after install_chat: it reads the chat's progress hook and poster from rt.extras.
    """
    catalog = rt.settings.catalog
    outbound = outbound or Outbound()
    progress: Callable[[int], None] | None = rt.extras.get("playbook_progress")
    runner = Runner(
        rt.engine,
        catalog,
        outbound,
        rt.clock,
        rt.extras.get("playbook_post_chat"),
        progress,
        public_url=rt.settings.public_url,
    )
    worker = PlaybookWorker(rt, catalog, runner, runs=rt.role.workers if runs is None else runs)
    runner.reload = worker.reload_catalog  # the approval gate's check before it runs a step
    service = PlaybookService(
        rt.engine,
        rt.read_engine,
        catalog,
        rt.clock,
        rt.settings.public_url,
        worker.wake,
        outbound,
    )
    worker.service = service
    rt.extras.update(
        playbooks=worker,
        playbook_service=service,
        playbook_catalog=catalog,
        playbook_wake=worker.wake,
    )
    # Without playbooks there is nothing to start or run: no loop, no heartbeat.
    if catalog.playbooks and (rt.role.workers or rt.role.http):
        rt.intake.committed.append(worker.committed_hook)
        rt.lifecycle.add_service(worker.start, worker.stop)
    else:
        rt.lifecycle.add_service(_nothing, outbound.aclose)  # dry-runs with reads use it
    return worker


async def _nothing() -> None:
    pass
