"""The correlation lookup of the grouping (routing.intake.incident_candidates) on
SQLite: it reads the incidents of the batch's services through an index, so its cost per
batch does not grow with the open incidents (as in a storm of new ones), and an
acknowledged incident is still a candidate."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, update

from routing.intake.incident_assignment import INCIDENT
from routing.intake.incident_candidates import load_candidates
from routing.storage.database import make_engine
from routing.storage.migrate import upgrade
from tests.routing.intake.test_grouping_store import T0, am, run

SINCE = T0 - timedelta(minutes=15)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path}/firebell.db"
    upgrade(url)
    engine = make_engine(url)
    run(engine, [am("Disk", service=f"svc{i}") for i in range(60)], T0)
    yield engine
    engine.dispose()


def test_the_lookup_by_service_uses_an_index_not_a_scan(engine: Engine) -> None:
    sent: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        sent.append((statement, params))

    event.listen(engine, "before_cursor_execute", capture)
    with engine.connect() as conn:
        found = load_candidates(conn, [], {"svc7": {"sentry"}}, SINCE)
    event.remove(engine, "before_cursor_execute", capture)
    assert [c.service for c in found] == ["svc7"]
    [(statement, params)] = [s for s in sent if "FROM incident" in s[0]]
    with engine.connect() as conn:
        plan = [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)]
    assert not [step for step in plan if step.startswith("SCAN incident")], plan


def test_an_acknowledged_incident_is_still_a_candidate(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(INCIDENT).where(INCIDENT.c.service == "svc8").values(status="acknowledged")
        )
    with engine.connect() as conn:
        found = load_candidates(conn, [], {"svc8": {"sentry"}, "svc9": {"sentry"}}, SINCE)
    assert sorted(c.service for c in found) == ["svc8", "svc9"]
