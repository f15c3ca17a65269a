"""/readyz's database probe: any failure of `SELECT 1` is "not ready", never a 500."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.http.readiness import DatabaseProbe
from routing.storage.database import make_engine, read_only


def test_a_database_that_fails_otherwise_than_unreachable_is_reported_not_raised(
    tmp_path: Path,
) -> None:
    # A corrupt SQLite file raises DatabaseError ("file is not a database"), which is
    # not an "unavailable" error; /readyz used to re-raise it and answer 500.
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"this is not an SQLite database, only sixteen bytes more" * 100)
    probe = DatabaseProbe(read_only(make_engine(f"sqlite:///{corrupt}")))

    state = asyncio.run(probe.check(5.0))

    assert state == "failed: DatabaseError"
