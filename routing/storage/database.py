"""Engines for SQLite (WAL, one writer at a time) and PostgreSQL, and the errors that mean
"the database is unavailable, ask the sender to retry"."""

from __future__ import annotations

import threading
import time
from collections import deque
from functools import cache
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, Table, create_engine, event, make_url
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from routing.storage.postgres_deadlines import PostgresTimeouts, connect_args, guard_commits
from routing.storage.sqlite_turn import FileTurn


def sqlalchemy_url(url: str) -> str:
    """A plain postgresql:// URL works as written: use the psycopg 3 driver we install."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def make_engine(
    url: str,
    *,
    pool_size: int = 5,
    echo: bool = False,
    timeouts: PostgresTimeouts | None = None,
) -> Engine:
    """`timeouts` bound every wait on PostgreSQL (routing.storage.postgres_deadlines);
    the defaults when None."""
    url = sqlalchemy_url(url)
    # orjson: label and annotation columns are (de)serialized on every alert write.
    json_codec: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}
    if is_sqlite(url):
        engine = create_engine(
            url,
            echo=echo,
            hide_parameters=True,  # error messages and logs carry no bound values
            **json_codec,
            connect_args={"check_same_thread": False, "timeout": 30},
        )
        _configure_sqlite(engine)
        return engine
    timeouts = timeouts or PostgresTimeouts()
    engine = create_engine(
        url,
        echo=echo,
        hide_parameters=True,  # raw payloads and tokens stay out of error messages
        **json_codec,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_timeout=timeouts.pool,
        connect_args=connect_args(timeouts, make_url(url).query),
    )
    if timeouts.round_trip is not None:
        guard_commits(engine, timeouts.round_trip)
    return engine


_READ_ONLY = "firebell_read_only"


def read_only(engine: Engine) -> Engine:
    """The same engine and pool for read sessions (the REST API's reads, /readyz): they
    never queue behind a writer. SQLite: a deferred WAL read transaction with
    `PRAGMA query_only`; PostgreSQL: a READ ONLY transaction. Both refuse a write."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(postgresql_readonly=True)
    return engine.execution_options(**{_READ_ONLY: True})


def _query_only(conn: Any, reading: bool) -> None:
    # Per DBAPI connection, so set only when a pooled connection changes hands.
    info = conn.connection.info
    if info.get(_READ_ONLY, False) != reading:
        conn.exec_driver_sql(f"PRAGMA query_only={int(reading)}")
        info[_READ_ONLY] = reading


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control from pysqlite so we can BEGIN IMMEDIATE ourselves.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode is durable against process crashes (the WAL is written
        # before commit returns); only an OS crash can lose the last transactions.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    database = engine.url.database
    in_memory = database in (None, "", ":memory:")
    # :memory: is one database per thread; a file is shared with other processes too.
    writers = None if in_memory else _WriterQueue(f"{database}-turn")
    holder: list[Any] = [None]  # the DBAPI connection whose transaction holds `writers`

    def release(connection: Any) -> None:
        raw = getattr(connection, "dbapi_connection", connection)
        if writers is not None and raw is not None and holder[0] is raw:
            holder[0] = None
            writers.release()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        reading = bool(conn.get_execution_options().get(_READ_ONLY))
        _query_only(conn, reading)
        if reading:
            # A deferred WAL read sees the last commit and waits for no writer.
            conn.exec_driver_sql("BEGIN")
            return
        # Writers take the lock up front: a read-then-write transaction can then never
        # fail half-way with SQLITE_BUSY when another process wrote in between. Threads
        # of this process queue for it in order first (see _WriterQueue).
        queued = writers is not None and writers.acquire(timeout=30)
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            if queued:
                writers.release()  # type: ignore[union-attr]
            raise
        if queued:
            holder[0] = conn.connection.dbapi_connection

    # The queue is left once COMMIT or ROLLBACK has run (SQLAlchemy's commit/rollback
    # events fire before them), or when the connection is checked in or invalidated.
    dialect = engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def do_commit(dbapi_connection: Any) -> None:
        try:
            commit(dbapi_connection)
        finally:
            release(dbapi_connection)

    def do_rollback(dbapi_connection: Any) -> None:
        try:
            rollback(dbapi_connection)
        finally:
            release(dbapi_connection)

    dialect.do_commit = do_commit  # type: ignore[method-assign]
    dialect.do_rollback = do_rollback  # type: ignore[method-assign]
    for name in ("checkin", "invalidate"):
        event.listen(engine, name, lambda dbapi_connection, *_: release(dbapi_connection))


class _WriterQueue:
    """First come, first served for the SQLite write lock among this process's threads,
    then turns with the other processes on the file (routing.storage.sqlite_turn).

    SQLite's busy handler polls with sleeps growing to 100 ms, so a thread that writes
    back to back (the intake under load) holds the lock almost always and a second
    writer (the paging worker, here or in another process) could wait seconds for a
    gap. Queueing here first hands the lock over in arrival order, with no sleeping.
    After `timeout` a waiter goes on to SQLite's own busy wait, as before.
    """

    def __init__(self, turn_path: str) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._waiting: deque[object] = deque()
        self._held = False
        self._turn = FileTurn(turn_path) if FileTurn.available() else None

    def acquire(self, timeout: float) -> bool:
        if not self._queue(timeout):
            return False
        if self._turn is not None:
            self._turn.acquire(timeout)  # else SQLite's own busy wait, as without turns
        return True

    def release(self) -> None:
        if self._turn is not None:
            self._turn.release()
        with self._cond:
            self._held = False
            self._cond.notify_all()

    def _queue(self, timeout: float) -> bool:
        with self._cond:
            if not self._held and not self._waiting:
                self._held = True
                return True
            me = object()
            self._waiting.append(me)
            deadline = time.monotonic() + timeout
            while self._held or self._waiting[0] is not me:
                left = deadline - time.monotonic()
                if left <= 0:
                    self._waiting.remove(me)
                    self._cond.notify_all()
                    return False
                self._cond.wait(left)
            self._waiting.popleft()
            self._held = True
            return True


def is_unavailable(exc: BaseException) -> bool:
    """True for errors that mean "try again later" (connection refused, locked, pool
    exhausted), as opposed to a bug or bad data."""
    if isinstance(exc, PoolTimeoutError):
        return True
    if isinstance(exc, OperationalError):
        return True
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated
    # The driver's own error, from a statement run on its cursor directly (the intake's
    # bulk statements): a lost or timed-out connection, a lock.
    return isinstance(exc, _driver_operational_errors())


@cache
def _driver_operational_errors() -> tuple[type[Exception], ...]:
    import sqlite3

    import psycopg

    return (sqlite3.OperationalError, psycopg.OperationalError)


def insert_ignoring_duplicates(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> int:
    """INSERT ... ON CONFLICT DO NOTHING; returns how many rows were new."""
    if not rows:
        return 0
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    # RETURNING yields a row only for an inserted row (rowcount is -1 with psycopg here).
    statement = dialect.insert(table).on_conflict_do_nothing().returning(*table.primary_key)
    return sum(len(conn.execute(statement, row).all()) for row in rows)
