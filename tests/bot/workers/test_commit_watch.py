"""The split worker's commit watch on a real, migrated SQLite file: another connection's
commit of an escalation wakes it at once (inotify on Linux, else the 30 ms poll), and a
commit that queues no paging work does not."""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, update

from bot.workers.commit_watch import CommitWatch
from routing.paging.escalation_store import ESCALATION, INCIDENT
from routing.storage.database import make_engine
from routing.storage.migrate import upgrade

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
WITHIN = 0.5  # seconds a wake may take at most before the test gives up waiting
# What the worker is promised: inotify looks again 2 and 50 ms after a burst, the poll
# every 30 ms; the rest is scheduling slack on a busy machine.
PROMPT = 0.25
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify")


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("migrated") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def db(migrated: Path, tmp_path: Path) -> Path:
    path = tmp_path / "x.db"
    shutil.copyfile(migrated, path)
    return path


@pytest.fixture
def writer(db: Path) -> Iterator[Engine]:
    """Another connection (WAL, as `serve` opens it) that commits beside the watch."""
    engine = make_engine(f"sqlite:///{db}")
    yield engine
    engine.dispose()


def add_incident(engine: Engine) -> int:
    with engine.begin() as conn:
        values = {
            "title": "disk full",
            "status": "triggered",
            "severity": "warning",
            "severity_rank": 1,
            "service": "api",
            "group_key": f"g{time.monotonic_ns()}",
            "created_at": T0,
            "updated_at": T0,
            "alert_count": 1,
            "open_alert_count": 1,
            "group_labels": {},
        }
        return int(conn.execute(insert(INCIDENT).values(**values)).inserted_primary_key[0])


def add_escalation(engine: Engine, incident_id: int) -> None:
    with engine.begin() as conn:
        values = {"incident_id": incident_id, "policy": "ops", "started_at": T0, "due_at": T0}
        conn.execute(insert(ESCALATION).values(updated_at=T0, **values))


def retitle(engine: Engine, incident_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(update(INCIDENT).where(INCIDENT.c.id == incident_id).values(title="x"))


async def wakes_on_escalation(db: Path, writer: Engine, use_inotify: bool) -> tuple[str, float]:
    """Starts a watch, commits a repeat-like change (no wake), then an escalation (one
    wake); the watch's mode and the seconds from that commit to the wake."""
    incident = add_incident(writer)  # before the watch: its baseline
    woken = asyncio.Event()
    wakes: list[float] = []

    def wake() -> None:
        wakes.append(time.monotonic())
        woken.set()

    watch = CommitWatch(db, wake, use_inotify=use_inotify)
    watch.start()
    try:
        await asyncio.to_thread(retitle, writer, incident)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(woken.wait(), WITHIN)
        assert wakes == [], "a commit that queues no paging work woke the worker"

        committed = time.monotonic()
        await asyncio.to_thread(add_escalation, writer, incident)
        await asyncio.wait_for(woken.wait(), WITHIN)
        return watch.mode or "", wakes[0] - committed
    finally:
        await watch.stop()


@linux_only
def test_inotify_wakes_on_another_connections_escalation(db: Path, writer: Engine) -> None:
    mode, latency = asyncio.run(wakes_on_escalation(db, writer, use_inotify=True))
    assert mode == "inotify"
    assert latency < PROMPT


def test_poll_fallback_wakes_on_another_connections_escalation(db: Path, writer: Engine) -> None:
    mode, latency = asyncio.run(wakes_on_escalation(db, writer, use_inotify=False))
    assert mode == "poll"
    assert latency < PROMPT


@linux_only
def test_inotify_falls_back_to_polling_without_a_directory(tmp_path: Path) -> None:
    async def scenario() -> str | None:
        watch = CommitWatch(tmp_path / "gone" / "x.db", lambda: None)
        watch.start()
        await watch.stop()
        return watch.mode

    assert asyncio.run(scenario()) == "poll"


def test_stop_releases_the_inotify_descriptor_and_connection(db: Path) -> None:
    async def scenario() -> None:
        watch = CommitWatch(db, lambda: None)
        watch.start()
        await watch.stop()
        assert watch._inotify is None and watch._conn is None and watch._task is None

    asyncio.run(scenario())


def test_for_worker_only_without_http_on_a_sqlite_file(db: Path) -> None:
    async def scenario() -> None:
        engine = make_engine(f"sqlite:///{db}")
        try:
            assert CommitWatch.for_worker(engine, True, lambda: None) is None
            watch = CommitWatch.for_worker(engine, False, lambda: None)
            assert watch is not None
            await watch.stop()
        finally:
            engine.dispose()
        memory = make_engine("sqlite://")
        assert CommitWatch.for_worker(memory, False, lambda: None) is None
        memory.dispose()

    asyncio.run(scenario())
