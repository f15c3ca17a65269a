"""Wakes a `firebell worker` soon after another process queues paging work in a shared
SQLite file, instead of at its next one-second poll.

In `firebell serve` the intake's writer thread wakes the paging worker directly; a
worker beside `serve --no-workers` learns of new escalations and channel posts only by
looking. SQLite's `PRAGMA data_version` changes when another connection commits, and
reading it takes no lock and touches no page, so it is polled often; only when it moved
are the highest escalation and notification ids read (the primary keys' last entries),
and a change there wakes the worker. Commits of repeats, acks and results do not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

log = logging.getLogger("firebell.paging")

INTERVAL = 0.03  # seconds between looks: the added paging latency, at most
_NEWEST = "SELECT (SELECT max(id) FROM escalation), (SELECT max(id) FROM notification)"


class CommitWatch:
    """Polls a SQLite file; `wake()` is called when new escalations or outbox rows appear."""

    def __init__(self, path: Path, wake: Callable[[], None], interval: float = INTERVAL) -> None:
        self.path = path
        self.wake = wake
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def for_worker(
        cls, engine: Engine, serves_http: bool, wake: Callable[[], None]
    ) -> CommitWatch | None:
        """A started watch for a worker without HTTP on a SQLite file, else None (with
        HTTP the intake in this process wakes the worker itself)."""
        database = engine.url.database
        if serves_http or engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
            return None
        watch = cls(Path(database), wake)
        watch.start()
        return watch

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="firebell-commit-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        version: int | None = None
        newest: tuple[object, object] | None = None
        while True:
            await asyncio.sleep(self.interval)
            try:
                if conn is None:
                    # Read-only and autocommit: it never holds a read snapshot between looks.
                    uri = f"{self.path.resolve().as_uri()}?mode=ro"
                    conn = sqlite3.connect(uri, uri=True, isolation_level=None)
                seen = conn.execute("PRAGMA data_version").fetchone()[0]
                if seen == version:
                    continue
                version = seen
                now = conn.execute(_NEWEST).fetchone()
                if newest is not None and now != newest:
                    self.wake()
                newest = now
            except sqlite3.Error as exc:
                # Not there yet, or busy: the worker's own poll still finds the work.
                log.debug("commit watch: %s", exc)
                if conn is not None:
                    conn.close()
                conn, version, newest = None, None, None
