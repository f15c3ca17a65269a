"""Crash and restart with real processes: two `firebell serve` replicas on one PostgreSQL,
kill -9 mid-escalation, and every step's page still arrives exactly once; and the split
setup (`serve --no-workers` + `firebell worker`, SQLite and PostgreSQL) with its worker
killed mid-storm.

Steps wait one real second (the processes run on the wall clock), so this test waits for
conditions with deadlines; it never sleeps a fixed time to let something happen."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select

from bot.roles import create_app
from routing.paging.escalation_store import ESCALATION, NOTIFICATION
from routing.storage.database import make_engine
from tests.support.loopback_http import LoopbackServer, RecordedRequest, Reply, start
from tests.support.paging import am_payload, am_storm_payload, settings_from
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


# ------------------------------------------- split: serve --no-workers + firebell worker


def split_config(database_url: str, sink: LoopbackServer) -> str:
    host = sink.base_url.removeprefix("http://")
    return f"""
database_url: "{database_url}"
users:
  - {{name: alice, contacts: ["json://{host}/alice"]}}
  - {{name: bob, contacts: ["json://{host}/bob"], bundle: {{max_pages: 10, window: 3s}}}}
escalation_policies:
  - name: ops
    steps:
      - {{notify: ["user:alice", "user:bob"]}}
route:
  group_wait: 0s
  receiver: {{escalation: ops}}
"""


class StallingSink:
    """Accepts pages (200) and remembers them, or, while stalled, holds each request
    until released and then refuses it (503): a page the receiver never accepted."""

    def __init__(self) -> None:
        self.accepted: list[RecordedRequest] = []
        self.stalled = 0
        self._open = threading.Event()
        self._open.set()
        self._lock = threading.Lock()

    def __call__(self, request: RecordedRequest) -> Reply:
        if not self._open.is_set():
            with self._lock:
                self.stalled += 1
            self._open.wait(30)
            return Reply.text("stalled", status=503)
        with self._lock:
            self.accepted.append(request)
        return Reply.json({})

    def stall(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def names(self, path: str) -> list[str]:
        """The storm's alert names in the pages accepted at `path`, bundles included."""
        pages = [r.json()["message"] for r in list(self.accepted) if r.path == path]
        # A page names its alert twice (title and alert line): each page counts once.
        return sorted(n for text in pages for n in set(re.findall(r"Storm\d{3}:", text)))


def _count(engine: Engine, status: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(select(func.count()).where(NOTIFICATION.c.status == status)).scalar_one()
        )


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_split_worker_killed_mid_storm_pages_each_incident_exactly_once(
    database_url: str, tmp_path: Path
) -> None:
    """`serve --no-workers` takes a storm of new incidents while `firebell worker` pages;
    the worker is killed (-9) with pages in flight and bob's pages held for a bundle,
    and a new worker finishes: every page accepted exactly once, none lost."""
    sink_state = StallingSink()
    names = [f"Storm{i:03d}" for i in range(60)]
    expected = sorted(f"{n}:" for n in names)
    with start(sink_state) as sink:
        text = split_config(database_url, sink)
        http = ServerProcess(tmp_path, text, name="http").start(args=["--no-workers"])
        worker = ServerProcess(tmp_path, text, name="worker").start_worker()
        restarted: ServerProcess | None = None
        engine = make_engine(database_url)

        def post(batch: list[str]) -> None:
            response = httpx.post(
                http.base_url + "/webhooks/alertmanager",
                content=am_storm_payload(batch),
                headers={"content-type": "application/json"},
            )
            assert response.status_code == 202, response.text

        try:
            for start_at in range(0, 30, 5):
                post(names[start_at : start_at + 5])
                time.sleep(0.1)
            wait_for("some pages accepted", lambda: len(sink_state.accepted) >= 10)
            # Mid-storm: the next sends hang at the sink; once every answered page is
            # recorded (the only crash window that could send one twice), kill -9.
            sink_state.stall()
            post(names[30:40])
            wait_for("a page in flight", lambda: sink_state.stalled > 0)
            wait_for(
                "answered pages recorded",
                lambda: _count(engine, "sent") == len(sink_state.accepted),
            )
            held = _count(engine, "held")  # bob's pages waiting for their bundle
            worker.kill()
            sink_state.release()
            post(names[40:60])  # the storm goes on with no worker running
            restarted = ServerProcess(tmp_path, text, name="worker2").start_worker()
            # The killed worker's claims run out (60 s) before its rows are sent again.
            wait_for(
                "every page accepted",
                lambda: (
                    sink_state.names("/alice") == expected and sink_state.names("/bob") == expected
                ),
                timeout=150,
            )
            time.sleep(1.5)  # a poll and a bundle window more: nothing else may arrive
        finally:
            for process in (http, worker, restarted):
                if process is not None:
                    process.stop()
            engine.dispose()
        logs = http.log() + worker.log() + (restarted.log() if restarted else "")
        assert sink_state.names("/alice") == expected, logs
        assert sink_state.names("/bob") == expected, logs  # alone or in exactly one bundle
        bob = [r.json()["title"] for r in sink_state.accepted if r.path == "/bob"]
        assert any("paged together" in title for title in bob), bob
        assert len(bob) < len(names)
        assert held > 0  # the kill came between holding pages and flushing them
