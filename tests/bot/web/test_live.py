"""Live ticks: GET /events of a real `firebell serve` streams a tick after a change made in
that process (an alert posted) and after one made by another process straight in the
database (the change marker); the hub reads no marker while no stream is open. Also the
trusted proxy on loopback, which needs the real server's view of the TCP peer."""

from __future__ import annotations

import asyncio
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from bot.runtime.state import SERVE, utc_now
from bot.web.live import Hub, moved, read_markers
from routing.storage.database import make_engine
from routing.storage.paging_tables import SilenceRow
from tests.bot.web.web_client import settings
from tests.support.server_process import ServerProcess


class Events:
    """The event names a /events stream delivers, read on a thread."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.names: queue.Queue[str] = queue.Queue()
        self.status: queue.Queue[int] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(url, headers or {}), daemon=True)
        self._thread.start()

    def _read(self, url: str, headers: dict[str, str]) -> None:
        timeout = httpx.Timeout(5.0, read=30.0)
        with httpx.Client(timeout=timeout) as http, http.stream("GET", url, headers=headers) as r:
            self.status.put(r.status_code)
            if r.status_code != 200:
                return
            for line in r.iter_lines():
                if self._stop.is_set():
                    return
                if line.startswith("event: "):
                    self.names.put(line.removeprefix("event: "))

    def wait_for(self, name: str, timeout: float = 10.0) -> float:
        """Seconds until `name` arrived; fails after `timeout`."""
        started = time.monotonic()
        while True:
            left = timeout - (time.monotonic() - started)
            if left <= 0:
                pytest.fail(f"no {name!r} event within {timeout} s")
            try:
                if self.names.get(timeout=left) == name:
                    return time.monotonic() - started
            except queue.Empty:
                continue

    def close(self) -> None:
        self._stop.set()


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[ServerProcess]:
    # No tokens on loopback: open access, no login needed for the stream.
    proc = ServerProcess(tmp_path, f"database_url: {database_url}\n")
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


def add_silence(engine: Engine, matcher: str, lasting: timedelta, by: str) -> None:
    """Write a silence straight into the database, as another process would."""
    now = utc_now()
    with Session(engine) as db:
        db.add(
            SilenceRow(
                id=str(uuid.uuid4()),
                matchers=[matcher],
                starts_at=now,
                ends_at=now + lasting,
                created_by=by,
                created_at=now,
            )
        )
        db.commit()


@pytest.mark.slow
def test_stream_ticks_after_changes_in_this_and_other_processes(
    server: ServerProcess, database_url: str
) -> None:
    events = Events(server.base_url + "/events")
    try:
        assert events.status.get(timeout=10) == 200
        events.wait_for("hello")
        # In this server: an alert arrives through the webhook (the intake's commit hook).
        posted = httpx.post(
            server.base_url + "/webhooks/generic",
            json={"title": "disk full", "service": "api", "severity": "critical"},
        )
        assert posted.status_code == 202, posted.text
        assert events.wait_for("incidents") < 5
        # Another process writes the database directly: only the marker can notice.
        engine = make_engine(database_url)
        try:
            add_silence(engine, 'service="api"', timedelta(hours=1), "another-process")
        finally:
            engine.dispose()
        assert events.wait_for("silences") < 5
    finally:
        events.close()


def test_markers_move_with_the_database_and_the_hub_reads_none_without_streams(
    database_url: str,
) -> None:
    from bot.roles import build_runtime

    rt = build_runtime(settings(database_url), SERVE)
    try:
        before = read_markers(rt.read_engine)
        assert moved(None, before) == []  # the first read is the baseline
        add_silence(rt.engine, 'a="b"', timedelta(minutes=5), "t")
        assert moved(before, read_markers(rt.read_engine)) == ["silences"]

        async def scenario() -> None:
            hub = Hub(rt, poll_seconds=0.05)
            hub.changed("incidents")  # no stream open: nothing to do, nothing read
            await asyncio.sleep(0.2)
            assert hub.polls == 0 and hub.poller is None
            async with hub.subscribe() as sub:
                # A hook on another thread (the intake writer's, say) ticks at once.
                threading.Thread(target=hub.changed, args=("runs", "bogus")).start()
                assert await sub.next(2.0) == ["runs"]
                await asyncio.sleep(0.3)
                assert hub.polls >= 2
            await asyncio.sleep(0.1)
            stopped_at = hub.polls
            await asyncio.sleep(0.3)
            assert hub.polls == stopped_at and hub.poller is None

        asyncio.run(scenario())
    finally:
        rt.engine.dispose()


@pytest.mark.slow
def test_a_proxy_on_loopback_names_the_user_of_a_real_server(tmp_path: Path) -> None:
    """The server sees the proxy (127.0.0.1) as the peer even when the proxy sends
    X-Forwarded-For: the user header is honoured from it, and only with the setting."""
    config = f"""\
database_url: sqlite:///{tmp_path}/firebell.db
api_tokens:
  - {{token: "${{ALICE_TOKEN}}", user: alice}}
users:
  - {{name: alice}}
web:
  trusted_user_header: X-Forwarded-User
  trusted_proxies: [127.0.0.0/8]
"""
    proc = ServerProcess(tmp_path, config, env={"ALICE_TOKEN": "alice-token-loopback-1"})
    proc.start()
    try:
        proxied = {"X-Forwarded-User": "alice", "X-Forwarded-For": "203.0.113.9"}
        login = httpx.get(proc.base_url + "/login", headers=proxied)
        assert login.status_code == 303  # already known: off to the page
        events = Events(proc.base_url + "/events", proxied)
        try:
            assert events.status.get(timeout=10) == 200
            events.wait_for("hello")
        finally:
            events.close()
        anonymous = httpx.get(proc.base_url + "/events", headers={"X-Forwarded-For": "1.2.3.4"})
        assert anonymous.status_code == 303
    finally:
        proc.stop()


@pytest.mark.slow
def test_an_open_stream_does_not_hold_up_a_stop(tmp_path: Path) -> None:
    """SIGTERM ends the open streams at once (uvicorn would wait out its 10 s graceful
    timeout for them); the browser reconnects to another replica."""
    proc = ServerProcess(tmp_path, f"database_url: sqlite:///{tmp_path}/firebell.db\n")
    proc.start()
    events = Events(proc.base_url + "/events")
    try:
        assert events.status.get(timeout=10) == 200
        events.wait_for("hello")
        started = time.monotonic()
        proc.stop()
        assert time.monotonic() - started < 5
    finally:
        events.close()
        proc.stop()
