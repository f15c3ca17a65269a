"""Wakes a `firebell worker` soon after another process queues paging work in a shared
SQLite file, instead of at its next one-second poll.

In `firebell serve` the intake's writer thread wakes the paging worker directly; a
worker beside `serve --no-workers` learns of new escalations and channel posts only by
looking. On Linux the file's directory is watched with inotify (inotify_simple; a
commit writes the database or, in WAL mode, appends to `<db>-wal`; a directory watch
outlives that file being deleted and recreated), so an idle worker does no work at all
and a commit after a quiet spell is seen within milliseconds. Elsewhere, or when
inotify is unavailable, `PRAGMA data_version` is polled every 30 ms: it changes when
another connection commits, takes no lock and touches no page. Either way, only when
it moved are the highest escalation and notification ids read (the primary keys' last
entries), and a change there wakes the worker. Commits of repeats, acks and results do
not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

try:  # Linux only (pyproject.toml installs it there)
    import inotify_simple
except ImportError:
    inotify_simple = None

log = logging.getLogger("firebell.paging")

INTERVAL = 0.03  # seconds between looks when polling: the added paging latency, at most
_NEWEST = "SELECT (SELECT max(id) FROM escalation), (SELECT max(id) FROM notification)"
if inotify_simple is not None:
    # Writes, and the file (re)appearing by creation or rename.
    _MASK = (
        inotify_simple.flags.MODIFY
        | inotify_simple.flags.CLOSE_WRITE
        | inotify_simple.flags.MOVED_TO
        | inotify_simple.flags.CREATE
    )
# A WAL commit writes its frames (the events) and only then publishes them in the
# mmapped -shm index, which raises no event: a look right at the event can miss the
# commit, so look again shortly after the last burst (and after a writer preempted
# in between; past that, the worker's own one-second poll finds the work).
_RECHECKS = (0.002, 0.05)  # seconds after the previous look
# Under load inotify would wake the worker for nearly every commit (its own outbox rows
# too), a pass each: wakes closer together than this are merged into one at its end,
# which keeps passes per second where the 30 ms poll had them.
_MIN_GAP = INTERVAL


class CommitWatch:
    """Watches a SQLite file; `wake()` is called when new escalations or outbox rows appear."""

    def __init__(
        self,
        path: Path,
        wake: Callable[[], None],
        interval: float = INTERVAL,
        use_inotify: bool = True,
    ) -> None:
        self.path = path
        self.wake = wake
        self.interval = interval
        self.use_inotify = use_inotify
        self.mode: str | None = None  # "inotify" or "poll" once started
        self._task: asyncio.Task[None] | None = None
        self._inotify: Any = None  # inotify_simple.INotify while watching
        self._loop: asyncio.AbstractEventLoop | None = None
        self._names: frozenset[str] = frozenset()
        self._recheck: asyncio.TimerHandle | None = None
        self._woke_at = float("-inf")  # loop time of the last wake (inotify mode)
        self._deferred: asyncio.TimerHandle | None = None
        self._conn: sqlite3.Connection | None = None
        self._version: int | None = None
        self._newest: tuple[object, object] | None = None

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
        self._check()  # the baseline ids now, so that the first commit after start wakes
        if self.use_inotify and self._start_inotify():
            self.mode = "inotify"
        else:
            self._start_poll()
        log.debug("commit watch on %s: %s", self.path, self.mode)

    async def stop(self) -> None:
        self._stop_inotify()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._reset()

    def _start_inotify(self) -> bool:
        if inotify_simple is None:
            log.debug("commit watch: inotify_simple is not installed")
            return False
        path = self.path.resolve()  # a symlinked file is written where it really lies
        try:
            inotify = inotify_simple.INotify(nonblocking=True)
        except OSError as exc:
            log.debug("commit watch: inotify_init1: %s", exc)
            return False
        try:
            # Out of watches (fs.inotify.max_user_watches), no such directory, ...
            inotify.add_watch(path.parent, _MASK)
        except OSError as exc:
            log.debug("commit watch: inotify_add_watch %s: %s", path.parent, exc)
            inotify.close()
            return False
        self._inotify = inotify
        self._names = frozenset((path.name, f"{path.name}-wal"))
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(inotify.fileno(), self._on_events)
        return True

    def _stop_inotify(self) -> None:
        for handle in (self._recheck, self._deferred):
            if handle is not None:
                handle.cancel()
        self._recheck = self._deferred = None
        if self._inotify is not None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(self._inotify.fileno())
            self._inotify.close()
            self._inotify = None

    def _start_poll(self) -> None:
        self.mode = "poll"
        self._task = asyncio.create_task(self._poll(), name="firebell-commit-watch")

    def _on_events(self) -> None:
        # Drain everything queued first, so a burst of writes (a commit is several
        # write() calls, each an IN_MODIFY) costs one check.
        try:
            events = self._inotify.read(timeout=0)
        except OSError as exc:
            log.debug("commit watch: inotify read: %s", exc)
            events = []
        relevant = lost = False
        for event in events:
            if event.mask & inotify_simple.flags.IGNORED:
                lost = True  # the directory went away, or its filesystem was unmounted
            elif event.mask & inotify_simple.flags.Q_OVERFLOW or event.name in self._names:
                relevant = True
        if relevant:
            self._check()
            self._arm_recheck(0)
        if lost:
            log.debug("commit watch: inotify watch removed; polling instead")
            self._stop_inotify()
            self._start_poll()

    def _arm_recheck(self, step: int) -> None:
        # Restarted by every burst, so the last commit of a burst gets every look.
        if self._recheck is not None:
            self._recheck.cancel()
        self._recheck = None
        if step < len(_RECHECKS) and self._loop is not None:
            self._recheck = self._loop.call_later(_RECHECKS[step], self._look_again, step)

    def _look_again(self, step: int) -> None:
        self._recheck = None
        self._check()
        self._arm_recheck(step + 1)

    def _wake(self) -> None:
        if self._loop is None or self._inotify is None:
            self.wake()  # polling: its interval already spaces the wakes
            return
        due = self._woke_at + _MIN_GAP
        if self._loop.time() >= due:
            self._woke_at = self._loop.time()
            self.wake()
        elif self._deferred is None:
            self._deferred = self._loop.call_at(due, self._wake_deferred)

    def _wake_deferred(self) -> None:
        self._deferred = None
        self._woke_at = self._loop.time() if self._loop is not None else self._woke_at
        self.wake()

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self._check()

    def _check(self) -> None:
        try:
            if self._conn is None:
                # Read-only and autocommit: it never holds a read snapshot between looks.
                uri = f"{self.path.resolve().as_uri()}?mode=ro"
                self._conn = sqlite3.connect(uri, uri=True, isolation_level=None)
            seen = self._conn.execute("PRAGMA data_version").fetchone()[0]
            if seen == self._version:
                return
            self._version = seen
            now = self._conn.execute(_NEWEST).fetchone()
            if self._newest is not None and now != self._newest:
                self._wake()
            self._newest = now
        except sqlite3.Error as exc:
            # Not there yet, or busy: the worker's own poll still finds the work.
            log.debug("commit watch: %s", exc)
            self._reset()

    def _reset(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn, self._version, self._newest = None, None, None
