"""Write turns between processes on one SQLite file (routing.storage.sqlite_turn): a
process that writes back to back no longer shuts another out for seconds, and a turn
that cannot be had in time gives way to SQLite's own busy wait."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from routing.storage.database import make_engine
from routing.storage.sqlite_turn import FileTurn

# Another process's writer: back-to-back write transactions, each holding the write lock
# a few milliseconds (an intake batch under a storm), until the stop file appears.
HOG = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from sqlalchemy import text
    from routing.storage.database import make_engine

    engine = make_engine(sys.argv[1])
    stop, deadline = Path(sys.argv[2]), time.monotonic() + 30
    while not stop.exists() and time.monotonic() < deadline:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t (who) VALUES ('hog')"))
            time.sleep(0.004)
    """
)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    url = f"sqlite:///{tmp_path}/firebell.db"
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT)"))
    yield url, engine
    engine.dispose()


def hog_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM t WHERE who = 'hog'")).scalar_one())


def test_a_second_process_gets_its_turn_while_another_writes_back_to_back(
    database: tuple[str, Engine], tmp_path: Path
) -> None:
    url, engine = database
    stop = tmp_path / "stop"
    hog = subprocess.Popen([sys.executable, "-c", HOG, url, str(stop)])
    try:
        deadline = time.monotonic() + 20
        while hog_rows(engine) < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert hog_rows(engine) >= 20, "the writing process did not start"
        waits = []
        for _ in range(10):
            started = time.monotonic()
            with engine.begin() as conn:
                waits.append(time.monotonic() - started)
                conn.execute(text("INSERT INTO t (who) VALUES ('me')"))
            time.sleep(0.01)
        assert hog.poll() is None, "the other process must still be writing"
    finally:
        stop.touch()
        hog.wait(timeout=30)
    # SQLite's busy handler alone left this process waiting up to seconds (it sleeps up
    # to 100 ms between looks, and the other process retakes the lock within
    # microseconds); in turns, each wait is about one of the other's transactions.
    assert max(waits) < 0.5, waits


def test_a_turn_not_had_in_time_gives_way_and_is_freed_later(tmp_path: Path) -> None:
    path = str(tmp_path / "db-turn")
    other = os.open(path, os.O_RDWR | os.O_CREAT)
    fcntl.flock(other, fcntl.LOCK_EX)
    turn = FileTurn(path)
    started = time.monotonic()
    assert turn.acquire(timeout=0.2) is False
    assert 0.2 <= time.monotonic() - started < 2
    turn.release()  # nothing held: nothing to do
    os.close(other)  # the abandoned waiter gets the lock now and must let it go at once
    again = FileTurn(path)
    assert again.acquire(timeout=1)
    # Held: another engine's attempt now waits, and gets it once this one lets go.
    third = FileTurn(path)
    assert third.acquire(timeout=0.1) is False
    again.release()
    assert third.acquire(timeout=5)
    third.release()
