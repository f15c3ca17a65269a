"""Deadlines on every wait for PostgreSQL: connecting, each round trip, the pool.

In a network partition the server neither answers nor closes: TCP keeps the connection
open and libpq waits on it for as long as the partition lasts, so without deadlines a
webhook, /readyz or the intake writer hangs with it and never recovers on its own. Here:

- connecting gives up after `connect` seconds (libpq `connect_timeout`);
- the server cancels a statement after `statement` seconds (`statement_timeout`), which
  frees its side when the server is alive but slow;
- the client gives up a round trip (statement, commit, rollback, pool ping) a little
  later, `round_trip` seconds, when no answer came at all: a watchdog thread shuts the
  socket down, the blocked call fails at once as a lost connection, and the pool throws
  that connection away. Callers see it as "database unavailable" (503 + Retry-After), and
  the next checkout connects afresh, so service comes back by itself with the network;
- TCP keepalives and `tcp_user_timeout` let the kernel notice a dead peer of an idle
  pooled connection or of unacknowledged data (a real partition drops packets);
- a checkout waits at most `pool` seconds for a free connection.

libpq parameters given in the database URL's query win over the keepalive defaults here.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

log = logging.getLogger("firebell.database")

# How long after the server's own statement_timeout the client stops waiting: the
# server's cancel answer normally arrives first and the connection stays usable.
ROUND_TRIP_GRACE = 0.5

# Idle connections are probed after 10 s and given up after 3 unanswered probes 3 s
# apart; sent data unacknowledged for 10 s closes the connection (a real partition).
KEEPALIVES: dict[str, int] = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 3,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,  # milliseconds
}


@dataclass(frozen=True, slots=True)
class PostgresTimeouts:
    """Seconds. `statement=None`: no statement deadline (schema migrations, which may
    legitimately run long on a big table)."""

    connect: int = 2  # libpq counts whole seconds, 2 at least
    statement: float | None = 3.0
    pool: float = 2.0

    @property
    def round_trip(self) -> float | None:
        return None if self.statement is None else self.statement + ROUND_TRIP_GRACE


def connect_args(timeouts: PostgresTimeouts, url_query: Mapping[str, Any]) -> dict[str, Any]:
    """psycopg connect() arguments: the deadlines, and keepalive defaults the URL's own
    query parameters override (SQLAlchemy lets connect_args override the URL)."""
    args: dict[str, Any] = {k: v for k, v in KEEPALIVES.items() if k not in url_query}
    if "connect_timeout" not in url_query:
        args["connect_timeout"] = timeouts.connect
    if timeouts.statement is not None:
        setting = f"-c statement_timeout={math.ceil(timeouts.statement * 1000)}"
        given = url_query.get("options")
        # The URL's own options first: a later -c wins, and this one is the deadline the
        # client-side cut is timed against.
        args["options"] = f"{given} {setting}" if isinstance(given, str) else setting
    if timeouts.round_trip is not None:
        args["cursor_factory"] = _guarded_cursor(timeouts.round_trip)
    return args


def guard_commits(engine: Engine, seconds: float) -> None:
    """COMMIT and ROLLBACK wait for the server too (statements and pings are guarded by
    the cursor class connect_args installs, which also covers raw driver cursors)."""
    dialect = engine.dialect
    error = dialect.loaded_dbapi.OperationalError
    for name in ("do_commit", "do_rollback"):
        call = getattr(dialect, name)

        def guarded(connection: Any, *args: Any, _call: Any = call) -> Any:
            with _deadline(connection, seconds, error):
                return _call(connection, *args)

        setattr(dialect, name, guarded)


def _guarded_cursor(seconds: float) -> type[Any]:
    import psycopg

    class GuardedCursor(psycopg.Cursor[Any]):
        """psycopg's cursor, with a deadline on each statement's round trip."""

        def execute(self, *args: Any, **kwargs: Any) -> Any:
            with _deadline(self.connection, seconds, psycopg.OperationalError):
                return super().execute(*args, **kwargs)

        def executemany(self, *args: Any, **kwargs: Any) -> None:
            with _deadline(self.connection, seconds, psycopg.OperationalError):
                super().executemany(*args, **kwargs)

    return GuardedCursor


@contextmanager
def _deadline(dbapi_connection: Any, seconds: float, error: type[Exception]) -> Iterator[None]:
    """Cut `dbapi_connection` if the block has not finished within `seconds`; the
    driver's `error` (OperationalError) then says why."""
    key = WATCHDOG.arm(dbapi_connection, seconds)
    try:
        yield
    except error as exc:
        if WATCHDOG.was_cut(key):
            raise error(
                f"no answer from PostgreSQL within {seconds:g}s: connection dropped"
            ) from exc
        raise
    finally:
        WATCHDOG.disarm(key)


class _Watchdog:
    """One thread for the whole process: it sleeps until the earliest deadline of the
    round trips in flight and shuts down the socket of each one still running then.

    Arming and disarming cost a lock and a dict operation; the thread wakes about once
    per deadline while busy, not once per round trip."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._inflight: dict[int, tuple[float, Any]] = {}
        self._cut: set[int] = set()
        self._keys = itertools.count()
        self._wakes_at = math.inf
        self._thread: threading.Thread | None = None
        # A forked child has none of the parent's threads: it starts its own when needed.
        os.register_at_fork(after_in_child=self._forget_thread)

    def _forget_thread(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._inflight.clear()
        self._cut.clear()
        self._wakes_at = math.inf
        self._thread = None

    def arm(self, dbapi_connection: Any, seconds: float) -> int:
        deadline = time.monotonic() + seconds
        with self._cond:
            key = next(self._keys)
            self._inflight[key] = (deadline, dbapi_connection)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="firebell-db-deadline", daemon=True
                )
                self._thread.start()
            if deadline < self._wakes_at:
                self._cond.notify()
        return key

    def disarm(self, key: int) -> None:
        with self._cond:
            self._inflight.pop(key, None)
            self._cut.discard(key)

    def was_cut(self, key: int) -> bool:
        with self._cond:
            return key in self._cut

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                for key, (deadline, connection) in list(self._inflight.items()):
                    if deadline <= now:
                        # Under the lock: the round trip cannot be disarmed (and its
                        # connection handed to someone else) between this check and the cut.
                        del self._inflight[key]
                        self._cut.add(key)
                        _shut_down(connection)
                self._wakes_at = min((d for d, _ in self._inflight.values()), default=math.inf)
                self._cond.wait(None if self._wakes_at == math.inf else self._wakes_at - now)


def _shut_down(dbapi_connection: Any) -> None:
    """Shut the connection's socket down both ways: libpq, blocked waiting for an answer,
    wakes at once and reports the connection lost. A duplicate descriptor is used and
    closed, so libpq's own descriptor stays valid until libpq closes it."""
    try:
        duplicate = os.dup(dbapi_connection.fileno())
    except Exception:  # closed meanwhile: nothing is waiting on it any more
        return
    with socket.socket(fileno=duplicate) as sock:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            return
    log.warning("no answer from PostgreSQL in time: dropping the connection")


WATCHDOG = _Watchdog()
