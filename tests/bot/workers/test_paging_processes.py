"""Crash and restart with real processes: two `firebell serve` replicas on one PostgreSQL,
kill -9 mid-escalation, and every step's page still arrives exactly once.

Steps wait one real second (the processes run on the wall clock), so this test waits for
conditions with deadlines; it never sleeps a fixed time to let something happen."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select

from bot.roles import create_app
from routing.paging.escalation_store import ESCALATION, NOTIFICATION
from routing.storage.database import make_engine
from tests.support.loopback_http import LoopbackServer, Reply, start
from tests.support.paging import am_payload, settings_from
from tests.support.server_process import ServerProcess
from tests.support.waiting import wait_for


def config(database_url: str, sink: LoopbackServer) -> str:
    host = sink.base_url.removeprefix("http://")
    return f"""
database_url: "{database_url}"
users:
  - {{name: alice, contacts: ["json://{host}/alice"]}}
  - {{name: bob, contacts: ["json://{host}/bob"]}}
  - {{name: carol, contacts: ["json://{host}/carol"]}}
escalation_policies:
  - name: ops
    steps:
      - {{notify: ["user:alice"], wait: 1s}}
      - {{notify: ["user:bob"], wait: 1s}}
      - {{notify: ["user:carol"]}}
route:
  group_wait: 0s
  receiver: {{escalation: ops}}
"""


def sent_by(engine: Engine, recipient: str) -> str | None:
    """The claimer (host:pid:tag) that delivered `recipient`'s page, once it is sent."""
    with engine.connect() as conn:
        row = conn.execute(
            select(NOTIFICATION.c.status, NOTIFICATION.c.claimed_by).where(
                NOTIFICATION.c.recipient == recipient
            )
        ).first()
    return row.claimed_by if row is not None and row.status == "sent" else None


def pid_of(claimer: str) -> int:
    return int(claimer.split(":")[1])


@pytest.fixture
def engine(pg_database_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_database_url)
    yield engine
    engine.dispose()


def test_serve_runs_the_paging_worker(tmp_path: Path) -> None:
    """`firebell serve` builds its app with create_app, which must install paging."""
    settings = settings_from(f'database_url: "sqlite:///{tmp_path}/x.db"')
    app = create_app(settings)
    assert "paging" in app.state.runtime.extras, (
        "bot.roles.create_app must call bot.workers.paging_worker.install_paging(rt)"
    )


@pytest.mark.postgres
@pytest.mark.slow
def test_replicas_survive_kill_9_and_page_each_step_exactly_once(
    pg_database_url: str, engine: Engine, tmp_path: Path
) -> None:
    with start(lambda _: Reply.json({})) as sink:
        text = config(pg_database_url, sink)
        replicas = {name: ServerProcess(tmp_path, text, name=name).start() for name in ("a", "b")}
        try:
            response = httpx.post(
                replicas["a"].base_url + "/webhooks/alertmanager",
                content=am_payload(),
                headers={"content-type": "application/json"},
            )
            assert response.status_code == 202

            # Step 1 is delivered; kill -9 whichever replica delivered it, mid-escalation.
            wait_for("alice's page to be recorded", lambda: sent_by(engine, "alice") is not None)
            first = pid_of(sent_by(engine, "alice") or "")
            killed = next(p for p in replicas.values() if p.proc and p.proc.pid == first)
            killed.kill()
            survivor = next(p for p in replicas.values() if p is not killed)

            # The survivor runs step 2 when it comes due; nobody acknowledged.
            wait_for("bob's page", lambda: sent_by(engine, "bob") is not None)
            assert pid_of(sent_by(engine, "bob") or "") == survivor.proc.pid  # type: ignore[union-attr]

            # Now the survivor crashes too; a fresh process resumes from the rows.
            survivor.kill()
            restarted = ServerProcess(tmp_path, text, name="c").start()
            replicas["c"] = restarted
            wait_for("carol's page", lambda: sent_by(engine, "carol") is not None)
            assert pid_of(sent_by(engine, "carol") or "") == restarted.proc.pid  # type: ignore[union-attr]

            wait_for(
                "the escalation to finish",
                lambda: _escalation_state(engine) == "done",
            )
            # One more poll interval of the restarted replica: nothing else may arrive.
            deadline = time.monotonic() + 1.5
            while time.monotonic() < deadline:
                time.sleep(0.05)
                assert len(sink.requests) <= 3
        finally:
            for process in replicas.values():
                process.stop()
        logs = "\n".join(p.log() for p in replicas.values())
        assert sorted(r.path for r in sink.requests) == ["/alice", "/bob", "/carol"], logs
        bodies = {r.path: r.json()["message"] for r in sink.requests}
        assert "node-7.prod:9100" in bodies["/alice"]
        assert "step 2 of 3" in bodies["/bob"] and "step 3 of 3" in bodies["/carol"]


def _escalation_state(engine: Engine) -> str | None:
    with engine.connect() as conn:
        state: str | None = conn.execute(select(ESCALATION.c.state)).scalar()
    return state
