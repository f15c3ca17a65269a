"""Two workers flushing one contact's held pages at the same moment on PostgreSQL: the
second skips the rows the first holds (it neither waits nor bundles them again), so the
pages go out in exactly one bundle; and the rows a pass holds are the ones it decided."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, select, text

from routing.oncall.bundle_rule import BundleRule
from routing.paging.bundle_store import BUNDLED, HELD, KIND, run_bundling
from routing.paging.outbox import NOTIFICATION
from routing.storage.database import make_engine
from tests.routing.paging.store_support import alert, receive
from tests.support.paging import T0

CONTACT = "json://pager.example/alice"
RULES = {CONTACT: BundleRule(max_pages=1, window=timedelta(seconds=10))}


def _held(row_id: int) -> dict[str, object]:
    return {
        "id": row_id,
        "incident_id": 1,
        "dedup_key": f"held:{row_id}",
        "kind": "page",
        "address": CONTACT,
        "recipient": "alice",
        "status": HELD,
        "created_at": T0,
        "first_due_at": T0,
        "next_attempt_at": T0 + timedelta(seconds=10),
    }


def test_concurrent_flushes_make_one_bundle(pg_database_url: str) -> None:
    engine = make_engine(pg_database_url)
    try:
        receive(engine, [alert()], T0)  # incident 1, triggered
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM notification"))
            conn.execute(insert(NOTIFICATION), [_held(i) for i in (11, 12, 13)])
        due = T0 + timedelta(seconds=10)
        first, second = engine.connect(), engine.connect()
        try:
            first.begin()
            run_bundling(first, RULES, due)  # holds the rows until it commits
            second.begin()
            # Waiting on the first would hang the test: fail fast instead.
            second.execute(text("SET LOCAL lock_timeout = '2s'"))
            run_bundling(second, RULES, due)
            first.commit()
            second.commit()
        finally:
            first.close()
            second.close()
        with engine.connect() as conn:
            rows = conn.execute(
                select(NOTIFICATION.c.id, NOTIFICATION.c.kind, NOTIFICATION.c.status,
                       NOTIFICATION.c.bundle_id)
            ).all()  # fmt: skip
    finally:
        engine.dispose()
    bundles = [r for r in rows if r.kind == KIND]
    assert len(bundles) == 1, rows
    pages = {r.id: (r.status, r.bundle_id) for r in rows if r.kind == "page"}
    assert pages == {i: (BUNDLED, bundles[0].id) for i in (11, 12, 13)}
