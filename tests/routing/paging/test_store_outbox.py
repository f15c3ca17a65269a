"""The paging outbox on SQLite and PostgreSQL: claims, expired claims, and cancelled pages."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, select

from routing.paging.escalation_store import NOTIFICATION
from routing.paging.outbox import claim_due, next_due, notifications_of, record_result
from routing.response.incidents import acknowledge
from tests.routing.paging.store_support import WAIT, alert, receive, steps
from tests.support.paging import T0


def _due_pages(engine: Engine) -> None:
    receive(engine, [alert()], T0)
    steps(engine, T0 + WAIT)


def test_claims_are_disjoint_and_run_out(engine: Engine) -> None:
    _due_pages(engine)
    at = T0 + WAIT
    with engine.begin() as conn:
        first = claim_due(conn, at, "w1", limit=2, claim_for=timedelta(seconds=60))
    with engine.begin() as conn:
        second = claim_due(conn, at, "w2", claim_for=timedelta(seconds=60))
    ids_1 = {c.row["id"] for c in first}
    ids_2 = {c.row["id"] for c in second}
    assert len(ids_1) == 2 and len(ids_2) == 1 and not ids_1 & ids_2
    assert (
        first[0].incident["id"] == 1 and first[0].alerts[0]["labels"]["alertname"] == "HighLatency"
    )
    with engine.begin() as conn:
        assert claim_due(conn, at + timedelta(seconds=59), "w3") == []
        assert next_due(conn) == at + timedelta(seconds=60)
    # w1 crashed: its rows are claimable again once the claim ran out.
    with engine.begin() as conn:
        third = claim_due(conn, at + timedelta(seconds=60), "w3")
    assert {c.row["id"] for c in third} == ids_1 | ids_2
    # w1 comes back late: its result is not stored over w3's claim.
    with engine.begin() as conn:
        assert not record_result(conn, min(ids_1), "w1", {"status": "sent"})
        assert record_result(conn, min(ids_1), "w3", {"status": "sent", "attempts": 1})
    with engine.connect() as conn:
        row = (
            conn.execute(select(NOTIFICATION).where(NOTIFICATION.c.id == min(ids_1)))
            .mappings()
            .one()
        )
    assert (row["status"], row["claimed_until"], row["claimed_by"]) == ("sent", None, "w3")


def test_pages_of_an_acknowledged_incident_are_cancelled_at_claim(engine: Engine) -> None:
    _due_pages(engine)
    with engine.begin() as conn:
        acknowledge(conn, 1, "alice", T0 + WAIT)
    with engine.begin() as conn:
        claimed = claim_due(conn, T0 + WAIT, "w1")
    assert [c.row["kind"] for c in claimed] == ["channel"]
    with engine.connect() as conn:
        statuses = {r["kind"]: r["status"] for r in notifications_of(conn, 1)}
    assert statuses == {"channel": "pending", "page": "cancelled"}
