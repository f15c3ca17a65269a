"""One worker per SQLite database: the workers claim rows under SQLite's single write
lock, so a second worker process would only queue behind the first (and two sweepers
would race). PostgreSQL takes any number (rows are claimed with SKIP LOCKED).

The lock is an exclusive `flock` on a file beside the database, held for the life of
the process and released by the kernel if the process dies, even by kill -9.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.runtime.state import CannotStart
from routing.storage.database import is_sqlite


class WorkerAlreadyRunning(CannotStart):
    """Another process already runs the workers for this SQLite database."""


def sqlite_file(database_url: str) -> Path | None:
    """The database file of a SQLite URL, or None (PostgreSQL, or an in-memory SQLite)."""
    if not is_sqlite(database_url):
        return None
    database = make_url(database_url).database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return Path(database).resolve()


class WorkerLock:
    """Held while this process runs the workers of a SQLite database (`with WorkerLock(url)`);
    a no-op for PostgreSQL, an in-memory SQLite, or a process that runs no workers."""

    def __init__(self, database_url: str, *, runs_workers: bool = True) -> None:
        file = sqlite_file(database_url) if runs_workers else None
        self.path = file.with_name(file.name + ".worker-lock") if file is not None else None
        self._fd: int | None = None

    def __enter__(self) -> WorkerLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def acquire(self) -> None:
        if self.path is None:
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise WorkerAlreadyRunning(
                f"another firebell process (pid {holder}) already runs the workers for "
                f"{self.path.with_suffix('')}: on SQLite run one `firebell worker` (or one "
                "`firebell serve` without --no-workers); PostgreSQL takes any number"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None
