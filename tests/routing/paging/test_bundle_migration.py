"""Migration 0012 (held pages and bundles) up, down and up again on SQLite and PostgreSQL:
downgrading while pages are held or a bundle waits leaves every unsent page pending, so
the previous release sends each alone instead of never."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import insert, inspect, text

from routing.paging.outbox import NOTIFICATION
from routing.storage.database import make_engine
from routing.storage.migrate import alembic_config, upgrade
from tests.routing.paging.store_support import alert, receive

T0 = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


def _page(row_id: int, status: str, **extra: object) -> dict[str, object]:
    return {
        "id": row_id,
        "incident_id": 1,
        "dedup_key": f"page:{row_id}",
        "kind": "page",
        "address": "json://pager.example/alice",
        "recipient": "alice",
        "status": status,
        "created_at": T0,
        "first_due_at": T0,
        "next_attempt_at": T0 + timedelta(seconds=10),
        **extra,
    }


def test_downgrade_sends_held_and_unsent_bundled_pages_alone(unmigrated_database_url: str) -> None:
    upgrade(unmigrated_database_url, "0012")
    engine = make_engine(unmigrated_database_url)
    try:
        receive(engine, [alert()], T0)  # incident 1
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM notification"))
            rows = [
                _page(101, "held"),
                _page(102, "bundled", bundle_id=201),  # its bundle is not sent yet
                _page(103, "bundled", bundle_id=202),  # its bundle went out
                _page(104, "sent", released_at=T0, sent_at=T0),
                {**_page(201, "pending"), "kind": "bundle", "incident_id": None},
                {**_page(202, "sent", sent_at=T0), "kind": "bundle", "incident_id": None},
            ]
            for row in rows:  # one by one: the rows differ in their columns
                conn.execute(insert(NOTIFICATION).values(row))
        command.downgrade(alembic_config(unmigrated_database_url), "0011")
        with engine.connect() as conn:
            after = dict(conn.execute(text("SELECT id, status FROM notification")).all())
        columns = {c["name"] for c in inspect(engine).get_columns("notification")}
        assert "released_at" not in columns and "bundle_id" not in columns
        assert after == {
            101: "pending",  # held: sent alone by 0011
            102: "pending",  # in an unsent bundle: sent alone
            103: "bundled",  # already sent in its bundle: never again
            104: "sent",
            201: "cancelled",
            202: "sent",
        }
        upgrade(unmigrated_database_url)  # and up again
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM notification")).scalar_one() == 6
        assert "bundle_id" in {c["name"] for c in inspect(engine).get_columns("notification")}
    finally:
        engine.dispose()
