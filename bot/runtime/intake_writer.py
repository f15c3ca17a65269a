"""Receive step, storage half: a writer thread that commits submissions in groups.

Requests hand their parsed submission to `Intake.submit` and wait; the writer drains
whatever is queued into one transaction (group commit), so a storm of small webhooks
costs one fsync per batch instead of one per request, and every request is answered
only after its raw body and all its effects are committed.

The queue is bounded (`intake.queue_size`, `intake.syslog_queue_size`; see
bot.runtime.intake_queue) and a request waits at most `intake.request_timeout`: past
either, the request is refused with IntakeUnavailable (the webhook answers 503 with
Retry-After) and bot.runtime.retry_ledger makes the sender's retry harmless. The writer
stamps its heartbeat every turn of its loop, so /readyz sees it die or stall.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from bot.runtime.heartbeats import Heartbeat, Heartbeats
from bot.runtime.intake_queue import IntakeQueue, Lane, Pending, State
from bot.runtime.retry_ledger import RetryLedger
from routing.intake.episode_cache import EpisodeCache
from routing.intake.ingest import ingest
from routing.intake.submission import BatchOutcome, IngestPolicy, Submission, SubmissionOutcome
from routing.storage.database import is_unavailable

log = logging.getLogger("firebell.intake")

# Called inside the ingest transaction (e.g. routing starts escalations atomically).
InTransactionHook = Callable[[Connection, BatchOutcome, datetime], None]
# Called after commit (e.g. wake the notification worker, count metrics).
CommittedHook = Callable[[BatchOutcome], None]

WRITER = "intake writer"  # its heartbeat's name, as /readyz reports it
IDLE_BEAT = 0.5  # seconds: an idle writer still stamps its heartbeat this often


class IntakeUnavailable(RuntimeError):
    """The intake cannot take this submission now; the sender should retry (HTTP 503
    with Retry-After). `reason` labels the refusal in metrics."""

    reason = "unavailable"


class DatabaseUnavailable(IntakeUnavailable):
    """The database cannot take writes now."""

    reason = "database_unavailable"


class IntakeFull(IntakeUnavailable):
    """The submission's lane of the queue holds its capacity."""

    reason = "intake_full"


class IntakeTimeout(IntakeUnavailable):
    """Not committed within `intake.request_timeout` (see bot.runtime.retry_ledger)."""

    reason = "intake_timeout"


class WriterDown(IntakeUnavailable):
    """The writer thread has died: nothing queued would ever be written."""

    reason = "writer_down"


@dataclass(frozen=True, slots=True)
class IntakeLimits:
    """The config's `intake:` section, in the units the writer uses."""

    queue_size: int = 1000  # requests waiting for the writer
    syslog_queue_size: int = 1000  # syslog lines waiting for the writer
    request_timeout: float = 5.0  # seconds a request waits for its commit
    # Syslog lines per batch (batches of lines only when no request waits): small, so a
    # request arriving meanwhile waits little (benchmarks/syslog_flood.py).
    syslog_per_batch: int = 32


Settled = tuple[Pending, SubmissionOutcome | None, BaseException | None]


class Intake:
    def __init__(
        self,
        engine: Engine,
        policy: IngestPolicy,
        clock: Callable[[], datetime],
        *,
        limits: IntakeLimits | None = None,
        max_batch: int = 512,
        in_transaction: Sequence[InTransactionHook] = (),
        committed: Sequence[CommittedHook] = (),
    ) -> None:
        self.engine = engine
        self.policy = policy
        self.clock = clock
        self.limits = limits = limits or IntakeLimits()
        self.max_batch = max_batch
        self.in_transaction = list(in_transaction)
        self.committed = list(committed)
        self.queue = IntakeQueue(
            {Lane.REQUEST: limits.queue_size, Lane.SYSLOG: limits.syslog_queue_size},
            limits.syslog_per_batch,
        )
        self._ledger = RetryLedger(capacity=limits.queue_size)
        self._thread: threading.Thread | None = None
        self._heartbeats: Heartbeats | None = None
        self._beat = Heartbeat(WRITER)
        self._conn: Connection | None = None  # the writer thread's own
        # What this writer last committed (SQLite: see routing.intake.episode_cache).
        self.episodes = EpisodeCache() if engine.dialect.name == "sqlite" else None

    def start(self, heartbeats: Heartbeats | None = None) -> None:
        # The writer and the event loop hand work back and forth for every request; with
        # CPython's default 5 ms GIL switch interval each hand-off can stall that long.
        sys.setswitchinterval(min(sys.getswitchinterval(), 0.0005))
        if self._thread is None:
            thread = threading.Thread(target=self._run, name="firebell-writer", daemon=True)
            self._thread = thread
            if heartbeats is not None:
                self._heartbeats = heartbeats
                self._beat = heartbeats.register(WRITER, thread.is_alive)
            thread.start()

    def stop(self) -> None:
        """Finish what is queued, then stop the writer."""
        if self._thread is not None:
            if self._heartbeats is not None:
                self._heartbeats.unregister(self._beat)
            self.queue.stop()
            self._thread.join(timeout=30)
            self._thread = None

    def _check_running(self) -> None:
        if self._thread is None:
            raise RuntimeError("intake is not started")
        if not self._thread.is_alive():
            raise WriterDown("the intake writer has stopped")

    async def submit(self, submission: Submission) -> SubmissionOutcome:
        """Queue `submission` on the request lane and wait for its commit, at most
        `limits.request_timeout` seconds: IntakeFull, IntakeTimeout, WriterDown or
        DatabaseUnavailable otherwise."""
        self._check_running()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[SubmissionOutcome] = loop.create_future()
        pending = Pending(submission, future, loop)
        queue = self.queue
        if self._ledger:  # a request timed out lately: this may be its sender's retry
            with queue.lock:
                twin = self._ledger.match(submission, time.monotonic())
                if isinstance(twin, SubmissionOutcome):
                    return twin  # written once already: not again
                if twin is not None:
                    pending.state = State.FOLLOWING
                    twin.followers.append(pending)
                elif not queue.put_locked(pending):
                    raise IntakeFull("the intake queue is full")
        elif not queue.put(pending):
            raise IntakeFull("the intake queue is full")
        try:
            async with asyncio.timeout(self.limits.request_timeout):
                return await future
        except TimeoutError:
            if self._withdraw(pending) is not State.DONE:
                seconds = self.limits.request_timeout
                raise IntakeTimeout(f"not stored within {seconds:g}s") from None
            # Settled between the deadline and the withdrawal: answer with it.
            if pending.error is not None:
                raise pending.error from None
            assert pending.result is not None
            return pending.result
        except asyncio.CancelledError:
            # The client went away; it will retry, so this is a timeout like any other.
            self._withdraw(pending)
            raise

    def _withdraw(self, pending: Pending) -> State:
        """Its waiter gives up: a queued submission is never written; one the writer took
        is an orphan, which the retry ledger remembers. Returns the state found."""
        with self.queue.lock:
            found = self.queue.withdraw(pending)
            if found is State.TAKEN:
                self._ledger.orphaned(pending)
        return found

    def offer(self, submission: Submission) -> Future[SubmissionOutcome]:
        """Queue a syslog line (nobody waits for it): IntakeFull when its lane is full,
        WriterDown when the writer has died. Thread-safe."""
        self._check_running()
        future: Future[SubmissionOutcome] = Future()
        if not self.queue.put(Pending(submission, future, None, Lane.SYSLOG)):
            raise IntakeFull("the syslog queue is full")
        return future

    def _run(self) -> None:
        try:
            self._serve()
        except BaseException:
            log.critical("intake writer died: nothing more is stored", exc_info=True)
            raise
        finally:
            self._drop_connection()

    def _serve(self) -> None:
        while True:
            self._beat.stamp()
            batch = self.queue.take(self.max_batch, IDLE_BEAT)
            if batch is None:
                return
            if batch:
                self._commit(batch)

    def _commit(self, batch: list[Pending]) -> None:
        try:
            try:
                self._commit_together(batch)
            except DBAPIError as exc:
                if not exc.connection_invalidated:
                    raise
                # The writer's connection died while idle (a database restart, say): once
                # more on a new one, as the pool's pre-ping would have done.
                self._commit_together(batch)
        except Exception as exc:
            if len(batch) == 1 or is_unavailable(exc):
                self._fail(batch, exc)
                return
            # One bad submission must not sink the others: retry them one by one.
            log.warning("batch of %d failed (%s); committing one by one", len(batch), exc)
            for pending in batch:
                try:
                    self._commit_together([pending])
                except Exception as single_exc:
                    self._fail([pending], single_exc)

    def _connection(self) -> Connection:
        # The writer keeps one connection: a pool checkout per batch costs a reset and,
        # on PostgreSQL, a pre-ping round trip, which a storm of small batches notices.
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._conn = self.engine.connect()
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            with suppress(Exception):
                self._conn.close()
            self._conn = None

    def _commit_together(self, batch: list[Pending]) -> None:
        now = self.clock()
        conn = self._connection()
        cache = self.episodes
        try:
            with conn.begin():
                if cache is not None:
                    cache.begin(conn)
                outcome = ingest(conn, [p.submission for p in batch], now, self.policy, cache)
                for in_txn in self.in_transaction:
                    in_txn(conn, outcome, now)
        except BaseException:
            if cache is not None:
                cache.forget()
            self._drop_connection()  # whatever state it is in, start the next batch afresh
            raise
        if cache is not None:
            cache.committed()
        self._settle([(p, r, None) for p, r in zip(batch, outcome.submissions, strict=True)])
        for hook in self.committed:
            try:
                hook(outcome)
            except Exception:  # a hook must never make a committed request look failed
                log.exception("after-commit hook failed")

    def _fail(self, batch: list[Pending], exc: BaseException) -> None:
        if is_unavailable(exc):
            log.error("database unavailable: %s", exc.__class__.__name__)
            error: BaseException = DatabaseUnavailable(str(exc).splitlines()[0][:200])
        else:
            log.exception("ingest failed", exc_info=exc)
            error = exc
        self._settle([(pending, None, error) for pending in batch])

    def _settle(self, settled: list[Settled]) -> None:
        """Record each result on its submission (and any retries following it) under the
        queue's lock, so a waiter giving up at that moment sees one or the other, then
        wake the waiters."""
        now = time.monotonic()
        answered: list[Settled] = []
        with self.queue.lock:
            for pending, result, error in settled:
                orphan = pending.state is State.ORPHANED
                followed = any(f.state is State.FOLLOWING for f in pending.followers)
                for waiter in (pending, *pending.followers):
                    waiter.result, waiter.error, waiter.state = result, error, State.DONE
                    answered.append((waiter, result, error))
                if orphan:
                    self._ledger.settled(pending, now, delivered=followed)
        _wake(answered)


def _wake(settled: list[Settled]) -> None:
    """Answer the waiters of a batch: one wake-up per event loop for the whole batch
    rather than one per request (each is a thread hand-off and a syscall)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Settled]] = {}
    for item in settled:
        pending = item[0]
        if pending.loop is None:
            _resolve(item)
        else:
            by_loop.setdefault(pending.loop, []).append(item)
    for loop, items in by_loop.items():
        with suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
            loop.call_soon_threadsafe(_resolve_all, items)


def _resolve_all(items: list[Settled]) -> None:
    for item in items:
        _resolve(item)


def _resolve(item: Settled) -> None:
    pending, result, error = item
    future = pending.future
    if future.done():  # e.g. the request was cancelled when its client went away
        return
    if error is not None:
        future.set_exception(error)
    else:
        assert result is not None
        future.set_result(result)
