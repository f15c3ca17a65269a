"""A report over a period that crosses midnight UTC counts the same incidents in the same
UTC days on SQLite and on PostgreSQL, whatever the PostgreSQL session's time zone and
whatever offset the period was written with."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, event

from routing.response.report_store import load_report
from routing.response.reports import choose_period
from routing.storage.database import make_engine
from tests.routing.response.test_report_store import am, send

MIDNIGHT = datetime(2026, 12, 2, tzinfo=UTC)
KIRITIMATI = timezone(timedelta(hours=14))


@pytest.fixture(params=["UTC", "Pacific/Kiritimati", "America/St_Johns"])
def engine(database_url: str, request: pytest.FixtureRequest) -> Iterator[Engine]:
    engine = make_engine(database_url)
    if engine.dialect.name == "postgresql":

        @event.listens_for(engine, "connect")
        def session_zone(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            with dbapi_connection.cursor() as cursor:
                cursor.execute(f"SET TIME ZONE '{request.param}'")
            dbapi_connection.commit()

    elif request.param != "UTC":
        pytest.skip("SQLite has no session time zone")
    yield engine
    engine.dispose()


def test_per_day_counts_across_midnight_utc(engine: Engine) -> None:
    for n, at in enumerate([
        MIDNIGHT - timedelta(hours=2),  # before the period
        MIDNIGHT - timedelta(minutes=30),
        MIDNIGHT - timedelta(microseconds=1),
        MIDNIGHT,
        MIDNIGHT + timedelta(minutes=30),
        MIDNIGHT + timedelta(hours=1),  # the period's end: left out
    ]):  # fmt: skip
        send(engine, at, am(f"A{n}"))
    # 23:00 UTC to 01:00 UTC, written at +14:00 (the next day there).
    period = choose_period(
        MIDNIGHT,
        start=(MIDNIGHT - timedelta(hours=1)).astimezone(KIRITIMATI),
        end=(MIDNIGHT + timedelta(hours=1)).astimezone(KIRITIMATI),
    )
    with engine.connect() as conn:
        report = load_report(conn, period, MIDNIGHT + timedelta(hours=2))
    assert report["period"]["from"] == "2026-12-01T23:00:00+00:00"
    assert report["totals"]["opened"] == 4
    assert report["per_day"] == [
        {"day": "2026-12-01", "incidents": 2},
        {"day": "2026-12-02", "incidents": 2},
    ]
