"""Run rows: create (once per once_key), claim with a lease (SKIP LOCKED on PostgreSQL),
guarded step writes, cancel, outputs, chat refs; and the incident as playbooks see it.
Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from playbooks import run_store
from playbooks.catalog import Catalog
from playbooks.incident_view import incident_view
from playbooks.outputs import Output
from routing.storage.database import make_engine
from routing.storage.timeline import TIMELINE
from tests.playbooks.run_support import catalog, open_incident, write_playbook
from tests.support.paging import T0

PLAYBOOK = """\
id: two-steps
steps:
  - {id: first, uses: logs.loki, with: {connection: loki, selector: {step: a}}}
  - {id: second, uses: chat.post, with: {text: done}}
"""
LEASE = timedelta(seconds=30)


@pytest.fixture
def books(tmp_path: Path) -> Catalog:
    write_playbook(tmp_path / "playbooks", PLAYBOOK)
    return catalog(tmp_path / "playbooks", "http://127.0.0.1:9")


def _create(
    engine: Engine, books: Catalog, incident_id: int, once_key: str | None = None
) -> int | None:
    playbook = books.get("two-steps")
    assert playbook is not None
    with engine.begin() as conn:
        return run_store.create_run(
            conn,
            incident_id=incident_id,
            playbook=playbook,
            params={"window": "30m"},
            started_by="alice",
            trigger="manual",
            now=T0,
            once_key=once_key,
        )


def _timeline(engine: Engine, incident_id: int) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(TIMELINE.c.kind, TIMELINE.c.message)
            .where(TIMELINE.c.incident_id == incident_id)
            .order_by(TIMELINE.c.id)
        )
        return [(r.kind, r.message) for r in rows]


def test_create_run_writes_pending_steps_and_a_timeline_entry(
    engine: Engine, books: Catalog
) -> None:
    incident = open_incident(engine, T0)
    run_id = _create(engine, books, incident)
    assert run_id is not None
    with engine.connect() as conn:
        run = run_store.get_run(conn, run_id)
    assert run is not None
    assert (run["status"], run["started_by"], run["trigger"], run["due_at"]) == (
        "running",
        "alice",
        "manual",
        T0,
    )
    assert run["playbook_sha256"] == books.playbooks["two-steps"].sha256
    assert [(s["step_id"], s["uses"], s["status"], s["attempt"]) for s in run["steps"]] == [
        ("first", "logs.loki", "pending", 0),
        ("second", "chat.post", "pending", 0),
    ]
    assert ("playbook_started", f"playbook two-steps started by alice (run {run_id})") in _timeline(
        engine, incident
    )


def test_a_once_key_starts_one_run_only(engine: Engine, books: Catalog) -> None:
    incident = open_incident(engine, T0)
    key = f"on_open:{incident}:two-steps"
    first = _create(engine, books, incident, key)
    assert first is not None
    assert _create(engine, books, incident, key) is None
    with engine.connect() as conn:
        assert [r["id"] for r in run_store.list_runs(conn, incident)] == [first]
        assert run_store.taken_once_keys(conn, [key, "on_open:0:x"]) == {key}


def test_claim_takes_due_runs_once_until_the_lease_runs_out(engine: Engine, books: Catalog) -> None:
    run_id = _create(engine, books, open_incident(engine, T0))
    assert run_id is not None
    with engine.begin() as conn:
        assert run_store.claim_due(conn, T0, "worker-a", LEASE, 10) == [run_id]
    with engine.begin() as conn:
        assert run_store.claim_due(conn, T0 + timedelta(seconds=29), "worker-b", LEASE, 10) == []
        assert run_store.next_due(conn) == T0 + LEASE
    with engine.begin() as conn:
        assert run_store.claim_due(conn, T0 + LEASE, "worker-b", LEASE, 10) == [run_id]
        assert run_store.get_run(conn, run_id)["lease_owner"] == "worker-b"  # type: ignore[index]


def _claimed_by_a(engine: Engine, books: Catalog) -> int:
    """A new run of a new incident, claimed by worker "a" at T0."""
    run_id = _create(engine, books, open_incident(engine, T0))
    assert run_id is not None
    with engine.begin() as conn:
        assert run_store.claim_due(conn, T0, "a", LEASE, 10) == [run_id]
    return run_id


def test_writes_of_a_worker_that_lost_its_lease_change_nothing(
    engine: Engine, books: Catalog
) -> None:
    run_id = _claimed_by_a(engine, books)
    with engine.begin() as conn:
        assert (
            run_store.begin_step(conn, run_id, "a", 0, T0, T0 + timedelta(seconds=70), {"m": 1})
            == 1
        )
    later = T0 + timedelta(seconds=71)
    with engine.begin() as conn:
        # a's lease ran out: it may not start a step any more, b takes the run over.
        assert run_store.begin_step(conn, run_id, "a", 0, later, later + LEASE, {}) is None
        assert run_store.claim_due(conn, later, "b", LEASE, 10) == [run_id]
    with engine.begin() as conn:
        done = run_store.finish_step(
            conn, run_id, "a", 0, later, status="succeeded", summary="late",
            run_summary="first: late", hold_until=later + LEASE,
        )  # fmt: skip
        assert done is None
        assert run_store.finish_run(conn, run_id, "a", "succeeded", later, "") is False
        assert run_store.begin_step(conn, run_id, "b", 0, later, later + LEASE, {"m": 2}) == 2
    with engine.connect() as conn:
        step = run_store.get_run(conn, run_id)["steps"][0]  # type: ignore[index]
    assert (step["status"], step["attempt"], step["summary"], step["request"]) == (
        "running",
        2,
        "",
        {"m": 2},
    )
    assert step["started_at"] == T0  # the first attempt's start is kept


def test_finish_step_stores_output_summary_and_a_retry_lets_the_run_go(
    engine: Engine, books: Catalog
) -> None:
    run_id = _claimed_by_a(engine, books)
    with engine.begin() as conn:
        run_store.begin_step(conn, run_id, "a", 0, T0, T0 + LEASE, {})
        retry_at = T0 + timedelta(seconds=5)
        assert run_store.retry_later(
            conn, run_id, "a", 0, retry_at, summary="retrying", error="HTTP 502"
        )
    with engine.begin() as conn:
        run = run_store.get_run(conn, run_id)
        assert run is not None
        assert (run["due_at"], run["lease_until"], run["lease_owner"]) == (retry_at, None, "")
        assert run["steps"][0]["status"] == "pending"
        assert run_store.claim_due(conn, T0 + timedelta(seconds=4), "b", LEASE, 10) == []
        assert run_store.claim_due(conn, retry_at, "b", LEASE, 10) == [run_id]
        run_store.begin_step(conn, run_id, "b", 0, retry_at, retry_at + LEASE, {})
        output = Output(["one", "two"], cut_lines=3, cut_bytes=12)
        assert run_store.finish_step(
            conn, run_id, "b", 0, retry_at, status="succeeded", summary="2 lines",
            excerpt="one\ntwo", facts={"count": 2}, output=output,
            run_summary="first: 2 lines", hold_until=retry_at + LEASE,
        )  # fmt: skip
        run_store.set_chat_refs(conn, run_id, {"slack": "C1:1.2"})
        run_store.set_chat_refs(conn, run_id, {"discord": "9:8"})
    with engine.connect() as conn:
        run = run_store.get_run(conn, run_id)
        outputs = run_store.read_outputs(conn, run_id, None)
        only = run_store.read_outputs(conn, run_id, "second")
    assert run is not None
    assert run["summary"] == "first: 2 lines"
    assert run["chat_refs"] == {"slack": "C1:1.2", "discord": "9:8"}
    assert (run["steps"][0]["attempt"], run["steps"][0]["facts"]) == (2, {"count": 2})
    assert outputs == [
        {"step_id": "first", "uses": "logs.loki", "status": "succeeded", "text": "one\ntwo",
         "line_count": 2, "cut_lines": 3, "cut_bytes": 12},
        {"step_id": "second", "uses": "chat.post", "status": "pending", "text": "",
         "line_count": 0, "cut_lines": 0, "cut_bytes": 0},
    ]  # fmt: skip
    assert only == outputs[1:]


def test_cancel(engine: Engine, books: Catalog) -> None:
    incident = open_incident(engine, T0)
    run_id = _create(engine, books, incident)
    assert run_id is not None
    later = T0 + timedelta(minutes=1)
    with engine.begin() as conn:
        assert run_store.request_cancel(conn, 999_999, "bob", later) == "unknown"
        assert run_store.request_cancel(conn, run_id, "bob", later) == "cancelling"
        assert run_store.request_cancel(conn, run_id, "carol", later) == "cancelling"
        run = run_store.get_run(conn, run_id)
        assert run is not None and (run["cancel_requested_by"], run["due_at"]) == ("bob", later)
        run_store.claim_due(conn, later, "a", LEASE, 10)
        assert run_store.finish_run(conn, run_id, "a", "cancelled", later, "")
        assert run_store.request_cancel(conn, run_id, "bob", later) == "already finished"
    assert (
        "playbook_cancel_requested",
        f"cancel of playbook two-steps (run {run_id}) requested by bob",
    ) in _timeline(engine, incident)


def test_incident_view_labels_and_sentry_issue(engine: Engine) -> None:
    incident = open_incident(engine, T0, labels={"region": "eu", "severity": "critical"})
    with engine.connect() as conn:
        view = incident_view(conn, incident, "https://fb.example.org")
        assert incident_view(conn, 999_999, None) is None
    assert view is not None
    assert view["url"] == f"https://fb.example.org/incidents/{incident}"
    assert (view["title"], view["status"], view["service"]) == (
        "HighErrorRate on api",
        "triggered",
        "api",
    )
    assert view["labels"] == {
        "alertname": "HighErrorRate", "service": "api", "region": "eu",
        "severity": "critical", "source": "alertmanager",
    }  # fmt: skip
    sentry = open_incident(
        engine,
        T0,
        source="sentry",
        service="web",
        name="TypeError",
        fingerprint_fields={"issue_id": "4711"},
    )
    with engine.connect() as conn:
        view = incident_view(conn, sentry, None)
    assert view is not None and view["url"] == ""
    assert view["labels"]["sentry_issue_id"] == "4711"
    assert view["labels"]["source"] == "sentry"


def test_postgres_claims_skip_locked_runs_without_waiting(
    pg_database_url: str, books: Catalog
) -> None:
    """Two replicas claiming at once take disjoint runs; neither waits for the other."""
    engine = make_engine(pg_database_url)
    try:
        incident = open_incident(engine, T0)
        runs = {_create(engine, books, incident) for _ in range(4)}
        holding, release = threading.Event(), threading.Event()
        first: list[int] = []

        def claim_and_hold() -> None:
            with engine.begin() as conn:
                first.extend(run_store.claim_due(conn, T0, "a", LEASE, 2))
                holding.set()
                release.wait(10)

        thread = threading.Thread(target=claim_and_hold)
        thread.start()
        assert holding.wait(10)
        started = time.monotonic()
        with engine.begin() as conn:  # a's transaction still holds its two rows
            second = run_store.claim_due(conn, T0, "b", LEASE, 10)
        waited = time.monotonic() - started
        release.set()
        thread.join()
        assert waited < 2
        assert len(first) == 2 and len(second) == 2
        assert set(first) | set(second) == runs and not set(first) & set(second)
    finally:
        engine.dispose()


def test_a_cancel_asked_during_a_pass_is_not_put_off_by_the_retry_it_ends_with(
    engine: Engine, books: Catalog
) -> None:
    run_id = _claimed_by_a(engine, books)
    cancel_at = T0 + timedelta(seconds=1)
    with engine.begin() as conn:
        run_store.begin_step(conn, run_id, "a", 0, T0, T0 + LEASE, {})
        assert run_store.request_cancel(conn, run_id, "bob", cancel_at) == "cancelling"
        assert run_store.retry_later(
            conn, run_id, "a", 0, T0 + timedelta(minutes=5), summary="retrying", error="x"
        )
    with engine.begin() as conn:
        run = run_store.get_run(conn, run_id)
        assert run is not None
        assert (run["due_at"], run["lease_owner"]) == (cancel_at, "")
        assert run_store.claim_due(conn, cancel_at, "b", LEASE, 10) == [run_id]
