"""Stores delivery results in batches: results that finish while a write is under way are
stored together in the next transaction (one commit, not one per page: on SQLite every
write transaction queues behind the intake's for the one lock)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine

from routing.paging.outbox import Claimed, note_failure, record_result, record_results
from routing.storage.database import is_unavailable

log = logging.getLogger("firebell.paging")


@dataclass(frozen=True, slots=True)
class _Result:
    """A delivery's outcome waiting to be stored (see ResultRecorder.store)."""

    claimed: Claimed
    values: dict[str, Any]
    gave_up: bool
    now: datetime
    done: asyncio.Future[bool]


class ResultRecorder:
    """One per paging worker: `store` returns once the result is committed (True), or
    False when the row's claim was lost to another worker first."""

    def __init__(self, engine: Engine, worker_id: str) -> None:
        self.engine = engine
        self.worker_id = worker_id
        self._queue: list[_Result] = []  # delivered, not yet stored
        self._recorder: asyncio.Task[None] | None = None

    async def store(
        self, claimed: Claimed, values: dict[str, Any], gave_up: bool, now: datetime
    ) -> bool:
        """Record one delivery's result; results that finish while a write is under way
        are stored together in the next transaction (one commit, not one per page: on
        SQLite every write transaction queues behind the intake's for the one lock)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[bool] = loop.create_future()
        self._queue.append(_Result(claimed, values, gave_up, now, done))
        recorder = self._recorder
        if recorder is None or recorder.done() or recorder.get_loop() is not loop:
            self._recorder = asyncio.create_task(self._record_queued())
        return await done

    async def _record_queued(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                stored = await asyncio.to_thread(self._record, batch)
            except Exception as exc:
                stored = [exc] * len(batch)
            for result, outcome in zip(batch, stored, strict=True):
                if result.done.done():
                    continue  # its delivery was cancelled (a stop past its grace)
                if isinstance(outcome, Exception):
                    result.done.set_exception(outcome)
                else:
                    result.done.set_result(outcome)

    def _record(self, batch: list[_Result]) -> list[bool | Exception]:
        try:
            with self.engine.begin() as conn:
                return self._record_together(conn, batch)
        except Exception as exc:
            if len(batch) == 1 or is_unavailable(exc):
                raise
            log.warning("storing %d results failed (%s); storing one by one", len(batch), exc)
        # One row that cannot be stored must not fail the others' results.
        outcomes: list[bool | Exception] = []
        for result in batch:
            try:
                with self.engine.begin() as conn:
                    outcomes.append(self._record_one(conn, result))
            except Exception as exc:
                outcomes.append(exc)
        return outcomes

    def _record_together(self, conn: Connection, batch: list[_Result]) -> list[bool | Exception]:
        """One UPDATE per distinct outcome (a pass's pages mostly share one), not per row."""
        same: dict[tuple[tuple[str, Any], ...], list[_Result]] = {}
        for result in batch:
            same.setdefault(tuple(sorted(result.values.items())), []).append(result)
        stored: set[int] = set()
        for results in same.values():
            ids = [r.claimed.row["id"] for r in results]
            stored |= record_results(conn, ids, self.worker_id, results[0].values)
        for result in batch:
            if result.claimed.row["id"] in stored:
                _note_if_gave_up(conn, result)
        return [r.claimed.row["id"] in stored for r in batch]

    def _record_one(self, conn: Connection, result: _Result) -> bool:
        stored = record_result(conn, result.claimed.row["id"], self.worker_id, result.values)
        if stored:
            _note_if_gave_up(conn, result)
        return stored


def _note_if_gave_up(conn: Connection, result: _Result) -> None:
    """A stored result that gave up: say so on the incident's timeline (note_failure)."""
    if result.gave_up:
        values = result.values
        note_failure(
            conn, result.claimed, result.now, values.get("detail") or "", values["attempts"]
        )
