"""/readyz and the intake's deadlines in a real `firebell serve`, on SQLite and PostgreSQL.

The writer is stalled from outside, as a real outage would: another client holds the
database's write lock (SQLite: BEGIN IMMEDIATE on the file; PostgreSQL: an exclusive lock
on the inbox table). While it does, a webhook answers 503 with Retry-After within
`intake.request_timeout`, /readyz answers within a second and fails naming the intake
writer, and REST reads still answer at once (read sessions never wait for a writer).
Once the lock goes, /readyz recovers by itself and the sender's retry is stored once.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest

from routing.storage.database import sqlalchemy_url
from tests.support.server_process import ServerProcess, free_port
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow

CONFIG = """\
database_url: {database_url}
intake: {{request_timeout: 1s, stall_after: 2s}}
sources:
  nginx:
    syslog: {{listen: "127.0.0.1:{syslog_port}"}}
"""
ALERT = b'{"title": "disk full", "severity": "warning", "service": "api"}'
JSON = {"Content-Type": "application/json"}


@contextmanager
def write_lock_held(database_url: str) -> Iterator[None]:
    """Another client holds the lock the intake writer needs, until the block ends."""
    if database_url.startswith("sqlite"):
        conn = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    libpq = sqlalchemy_url(database_url).replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(libpq) as pg:
        pg.execute("LOCK TABLE inbox IN ACCESS EXCLUSIVE MODE")
        yield
        pg.rollback()


def inbox_rows(database_url: str) -> int:
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
            return int(conn.execute("SELECT count(*) FROM inbox").fetchone()[0])
    libpq = sqlalchemy_url(database_url).replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(libpq) as pg:
        row = pg.execute("SELECT count(*) FROM inbox").fetchone()
        assert row is not None
        return int(row[0])


def timed_get(http: httpx.Client, path: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = http.get(path)
    return response, time.monotonic() - started


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    config = CONFIG.format(database_url=database_url, syslog_port=free_port())
    proc = ServerProcess(tmp_path, config)
    if not database_url.startswith("sqlite"):
        assert proc.cli("db", "upgrade").returncode == 0
    with proc:
        yield proc


def test_a_stalled_writer_fails_readiness_and_recovers_and_the_retry_is_stored_once(
    server: ServerProcess, database_url: str
) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        ready = http.get("/readyz")
        assert ready.status_code == 200, ready.text
        parts = set(ready.json()["checks"])
        assert parts == {"database", "intake writer", "paging worker", "syslog listener"}

        with write_lock_held(database_url):
            started = time.monotonic()
            refused = http.post("/webhooks/generic", content=ALERT, headers=JSON)
            assert refused.status_code == 503, refused.text
            assert refused.headers["retry-after"]
            assert time.monotonic() - started < 2.5  # request_timeout is 1s

            def writer_reported_stalled() -> bool:
                response, took = timed_get(http, "/readyz")
                assert took < 1.5, f"/readyz took {took:.2f}s"
                checks = response.json().get("checks", {})
                return response.status_code == 503 and "stalled" in checks["intake writer"]

            wait_for("/readyz to report the stalled writer", writer_reported_stalled, 10)
            failing = http.get("/readyz")
            assert failing.headers["retry-after"]
            assert "intake writer stalled" in failing.json()["detail"]

            listed, took = timed_get(http, "/api/v1/incidents")
            assert listed.status_code == 200, listed.text
            assert took < 1.0, f"a REST read waited {took:.2f}s behind the writer"

        wait_for("/readyz to recover", lambda: http.get("/readyz").status_code == 200, 15)
        # The refused request had been taken by the writer: it was stored once the lock
        # went, and the sender's retry is answered with that write, not stored again.
        retried = http.post("/webhooks/generic", content=ALERT, headers=JSON)
        assert retried.status_code == 202, retried.text
        assert inbox_rows(database_url) == 1


def test_an_http_only_replica_is_not_held_unready_by_a_paging_worker_it_does_not_run(
    tmp_path: Path,
) -> None:
    database_url = f"sqlite:///{tmp_path}/firebell.db"
    proc = ServerProcess(tmp_path, f"database_url: {database_url}\n")
    try:
        proc.start(args=["--no-workers"])
        ready = httpx.get(proc.base_url + "/readyz", timeout=5)
        assert ready.status_code == 200, ready.text
        assert set(ready.json()["checks"]) == {"database", "intake writer"}
    finally:
        proc.stop()
