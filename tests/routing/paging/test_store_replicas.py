"""Replicas racing on PostgreSQL: each escalation step runs once and no outbox row is shared."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from routing.paging.escalation_steps import run_due_escalations
from routing.paging.escalation_store import ESCALATION, NOTIFICATION
from routing.paging.outbox import claim_due
from routing.storage.database import make_engine
from tests.routing.paging.store_support import CONFIG, WAIT, alert, count, receive
from tests.support.paging import T0


@pytest.mark.postgres
def test_concurrent_workers_run_each_step_once(pg_database_url: str) -> None:
    """Four workers on their own connections race over 30 due escalations (SKIP LOCKED)."""
    engine = make_engine(pg_database_url, pool_size=8)
    for i in range(30):
        receive(engine, [alert(f"Alert{i}")], T0)
    barrier = threading.Barrier(4)
    reports: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        try:
            for _ in range(10):
                with engine.begin() as conn:
                    done = run_due_escalations(conn, CONFIG, T0 + WAIT, limit=3)
                with lock:
                    reports.extend(done)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(r.escalation_id for r in reports) == list(range(1, 31))
    assert count(engine, ESCALATION, ESCALATION.c.step_no == 1) == 30
    assert count(engine, NOTIFICATION, NOTIFICATION.c.kind == "page") == 60
    engine.dispose()


@pytest.mark.postgres
def test_concurrent_claimers_never_share_a_row(pg_database_url: str) -> None:
    engine = make_engine(pg_database_url, pool_size=8)
    for i in range(20):
        receive(engine, [alert(f"Alert{i}")], T0)
    with engine.begin() as conn:
        run_due_escalations(conn, CONFIG, T0 + WAIT)
    barrier = threading.Barrier(4)
    claimed: dict[str, list[int]] = {}

    def claimer(name: str) -> None:
        barrier.wait()
        mine: list[int] = []
        for _ in range(10):
            with engine.begin() as conn:
                mine += [c.row["id"] for c in claim_due(conn, T0 + WAIT, name, limit=3)]
        claimed[name] = mine

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for ids in claimed.values() for i in ids]
    assert len(every) == len(set(every)) == count(engine, NOTIFICATION)  # 20 channel + 40 pages
    engine.dispose()
