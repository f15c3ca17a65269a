"""The storm path's plain SQL must read and write exactly what SQLAlchemy's column types
do, on both databases, or the two halves of the code would disagree about a row."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, Engine, select

from routing.intake.episode_store import ALERT
from routing.intake.ingest import INBOX, ingest, quiet_alerts
from routing.intake.storm_sql import read_episodes, sqlite_datetime
from routing.intake.submission import IngestPolicy, Submission
from routing.storage.database import make_engine
from tests.routing.intake.test_ingest_store import am_alert

T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)  # whole seconds: the format edge case


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def send(engine: Engine, now: datetime, *names: str) -> None:
    with engine.begin() as conn:
        alerts = [am_alert(name) for name in names]
        ingest(conn, [Submission("alertmanager", alerts, b"{}")], now, IngestPolicy())


def test_a_repeat_written_in_plain_sql_reads_back_through_sqlalchemy(engine: Engine) -> None:
    send(engine, T0, "Disk")
    later = T0 + timedelta(seconds=7, microseconds=250)
    send(engine, later, "Disk")  # a plain repeat: the counter-only update
    with engine.connect() as conn:
        row = conn.execute(select(ALERT)).mappings().one()
    assert row["occurrences"] == 2
    assert row["first_seen"] == T0
    assert row["last_seen"] == later
    assert row["flapping"] is False


def test_plain_sql_reads_what_sqlalchemy_wrote(engine: Engine) -> None:
    send(engine, T0, "Disk", "Cpu")
    with engine.begin() as conn:
        read = read_episodes(conn, sorted(_fingerprints(conn)))
    assert [episodes for _fp, episodes, _row in read] == [1, 1]
    for _fingerprint, _episodes, row in read:
        assert row is not None
        assert row["first_seen"] == T0 and row["first_seen"].tzinfo is not None
        assert row["occurrences"] == 1
        assert row["flapping"] is False
        assert row["status"] == "firing"


def test_time_comparisons_agree_across_both_writers(engine: Engine) -> None:
    # quiet_alerts compares last_seen in SQL: a counter written by the plain path at a
    # whole second must still compare as the same instant SQLAlchemy writes.
    send(engine, T0 - timedelta(minutes=1), "Disk")
    send(engine, T0, "Disk")
    with engine.connect() as conn:
        assert quiet_alerts(conn, "alertmanager", T0) == []
        assert len(quiet_alerts(conn, "alertmanager", T0 + timedelta(microseconds=1))) == 1


def test_sqlite_text_matches_sqlalchemys_format() -> None:
    assert sqlite_datetime(T0) == "2026-05-04 10:00:00.000000"
    with pytest.raises(ValueError):
        sqlite_datetime(datetime(2026, 5, 4))  # naive: refused, as UTCDateTime does


def _fingerprints(conn: Connection) -> list[str]:
    return list(conn.execute(select(ALERT.c.fingerprint)).scalars())


def test_inbox_rows_keep_their_order_and_bodies(engine: Engine) -> None:
    bodies = [f'{{"n": {i}}}'.encode() for i in range(5)]
    with engine.begin() as conn:
        outcome = ingest(
            conn,
            [Submission("generic", [], body, request_id=f"r{i}") for i, body in enumerate(bodies)],
            T0,
            IngestPolicy(),
        )
        ids = [s.inbox_id for s in outcome.submissions]
        stored = dict(
            conn.execute(select(INBOX.c.id, INBOX.c.body).where(INBOX.c.id.in_(ids))).all()
        )
        received = conn.execute(select(INBOX.c.received_at)).scalars().all()
    assert [stored[i] for i in ids] == bodies  # ids come back in the submissions' order
    assert received == [T0] * 5
