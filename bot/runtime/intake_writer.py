"""Receive step, storage half: a writer thread that commits submissions in groups.

Requests hand their parsed submission to `Intake.submit` and wait; the writer drains
whatever is queued into one transaction (group commit), so a storm of small webhooks
costs one fsync per batch instead of one per request, and every request is answered
only after its raw body and all its effects are committed.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from routing.intake.episode_cache import EpisodeCache
from routing.intake.ingest import ingest
from routing.intake.submission import BatchOutcome, IngestPolicy, Submission, SubmissionOutcome
from routing.storage.database import is_unavailable

log = logging.getLogger("firebell.intake")

# Called inside the ingest transaction (e.g. routing starts escalations atomically).
InTransactionHook = Callable[[Connection, BatchOutcome, datetime], None]
# Called after commit (e.g. wake the notification worker, count metrics).
CommittedHook = Callable[[BatchOutcome], None]


class DatabaseUnavailable(RuntimeError):
    """The database cannot take writes now; the sender should retry (HTTP 503)."""


@dataclass(slots=True)
class _Pending:
    """A queued submission and who waits for it: an asyncio future on `loop` (requests)
    or a thread-safe future (`submit_nowait`)."""

    submission: Submission
    future: Future[SubmissionOutcome] | asyncio.Future[SubmissionOutcome]
    loop: asyncio.AbstractEventLoop | None = None


Settled = tuple[_Pending, SubmissionOutcome | None, BaseException | None]


_STOP = object()


class Intake:
    def __init__(
        self,
        engine: Engine,
        policy: IngestPolicy,
        clock: Callable[[], datetime],
        *,
        max_batch: int = 512,
        in_transaction: Sequence[InTransactionHook] = (),
        committed: Sequence[CommittedHook] = (),
    ) -> None:
        self.engine = engine
        self.policy = policy
        self.clock = clock
        self.max_batch = max_batch
        self.in_transaction = list(in_transaction)
        self.committed = list(committed)
        self._queue: queue.SimpleQueue[_Pending | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._conn: Connection | None = None  # the writer thread's own
        # What this writer last committed (SQLite: see routing.intake.episode_cache).
        self.episodes = EpisodeCache() if engine.dialect.name == "sqlite" else None

    def start(self) -> None:
        # The writer and the event loop hand work back and forth for every request; with
        # CPython's default 5 ms GIL switch interval each hand-off can stall that long.
        sys.setswitchinterval(min(sys.getswitchinterval(), 0.0005))
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="firebell-writer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Finish what is queued, then stop the writer."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout=30)
            self._thread = None

    async def submit(self, submission: Submission) -> SubmissionOutcome:
        if self._thread is None:
            raise RuntimeError("intake is not started")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[SubmissionOutcome] = loop.create_future()
        self._queue.put(_Pending(submission, future, loop))
        return await future

    def submit_nowait(self, submission: Submission) -> Future[SubmissionOutcome]:
        if self._thread is None:
            raise RuntimeError("intake is not started")
        future: Future[SubmissionOutcome] = Future()
        self._queue.put(_Pending(submission, future))
        return future

    def _run(self) -> None:
        try:
            self._serve()
        finally:
            self._drop_connection()

    def _serve(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                break
            assert isinstance(first, _Pending)
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                assert isinstance(item, _Pending)
                batch.append(item)
            self._commit(batch)

    def _commit(self, batch: list[_Pending]) -> None:
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

    def _commit_together(self, batch: list[_Pending]) -> None:
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
        _settle([(p, result, None) for p, result in zip(batch, outcome.submissions, strict=True)])
        for hook in self.committed:
            try:
                hook(outcome)
            except Exception:  # a hook must never make a committed request look failed
                log.exception("after-commit hook failed")

    def _fail(self, batch: list[_Pending], exc: BaseException) -> None:
        if is_unavailable(exc):
            log.error("database unavailable: %s", exc.__class__.__name__)
            error: BaseException = DatabaseUnavailable(str(exc).splitlines()[0][:200])
        else:
            log.exception("ingest failed", exc_info=exc)
            error = exc
        _settle([(pending, None, error) for pending in batch])


def _settle(settled: list[Settled]) -> None:
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
