"""Turns at the SQLite write lock between processes sharing one file.

SQLite's busy handler polls with sleeps growing to 100 ms, so a process that writes
back to back (`firebell serve --no-workers` under an alert storm) holds the lock almost
always, and another process (`firebell worker`) waits seconds for a gap: measured, a page
waited 0.8-1 s at p50 and about 3 s at p99 during a storm. So every write transaction
first takes an exclusive flock(2) on `<database>-turn`: a process blocked on it is woken
by the kernel the moment the holder lets go, before the holder (which still has to
answer its batch and take the next one) can take it again, so the processes alternate.
Within a process, threads already queue in order (routing.storage.database._WriterQueue),
so at most one thread per engine waits here. Plain fcntl, not a lock library: filelock
and fasteners wait by retrying after sleeps, the very thing this replaces.
"""

from __future__ import annotations

import logging
import os
import threading

try:
    import fcntl
except ImportError:  # not POSIX: SQLite's own busy wait alone, as before
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("firebell.storage")


class FileTurn:
    """An exclusive flock on `path`, waited for at most `timeout` seconds per acquire.

    Each acquire opens the file anew (a flock belongs to its open file, and closing it
    lets go): a wait that timed out leaves its waiting thread to close its own file once
    it gets the lock, never touching the next acquire's."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._held: int | None = None  # the open file holding the lock

    @staticmethod
    def available() -> bool:
        return fcntl is not None

    def acquire(self, timeout: float) -> bool:
        """True once this engine holds the turn; False when it could not (then the caller
        goes on to SQLite's own busy wait, as without turns)."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            log.debug("no write turn file %s: %s", self.path, exc)
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return self._wait(fd, timeout)
        except OSError as exc:
            log.debug("write turn %s: %s", self.path, exc)
            os.close(fd)
            return False
        self._held = fd
        return True

    def _wait(self, fd: int, timeout: float) -> bool:
        # A blocking flock cannot time out, so a thread waits in it; the GIL is free
        # meanwhile and the kernel wakes it the moment the holder closes its file.
        got = threading.Event()
        guard = threading.Lock()
        abandoned = failed = False

        def wait() -> None:
            nonlocal failed
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError as exc:
                log.debug("write turn %s: %s", self.path, exc)
                os.close(fd)
                failed = True
                got.set()
                return
            with guard:
                if abandoned:
                    os.close(fd)  # too late: let the next one have it
                    return
                got.set()

        threading.Thread(target=wait, name="firebell-write-turn", daemon=True).start()
        if not got.wait(timeout):
            with guard:
                if not got.is_set():
                    abandoned = True
                    return False
        if failed:
            return False
        self._held = fd
        return True

    def release(self) -> None:
        fd, self._held = self._held, None
        if fd is not None:
            os.close(fd)
