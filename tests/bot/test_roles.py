"""Process roles with real processes: `firebell serve --no-workers` takes the alerts and a
separate `firebell worker` pages them, on PostgreSQL and on SQLite; on SQLite a second
worker (or a serve that runs workers) is refused with a clear message."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from routing.paging.escalation_store import ESCALATION, NOTIFICATION
from routing.storage.database import make_engine
from tests.support.loopback_http import LoopbackServer, Reply, start
from tests.support.paging import am_payload
from tests.support.server_process import ServerProcess, free_port
from tests.support.waiting import wait_for


def config(database_url: str, sink: LoopbackServer) -> str:
    host = sink.base_url.removeprefix("http://")
    return f"""
database_url: "{database_url}"
users:
  - {{name: alice, contacts: ["json://{host}/alice"]}}
escalation_policies:
  - name: ops
    steps:
      - {{notify: ["user:alice"]}}
route:
  group_wait: 0s
  receiver: {{escalation: ops}}
"""


def notifications(database_url: str) -> list[tuple[str, str | None]]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(NOTIFICATION.c.status, NOTIFICATION.c.claimed_by))
            return [(r.status, r.claimed_by) for r in rows]
    finally:
        engine.dispose()


def escalations(database_url: str) -> int:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return len(conn.execute(select(ESCALATION.c.id)).all())
    finally:
        engine.dispose()


def post_alert(server: ServerProcess) -> None:
    response = httpx.post(
        server.base_url + "/webhooks/alertmanager",
        content=am_payload(),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 202, response.text


def http_only_then_worker(tmp_path: Path, database_url: str) -> None:
    with start(lambda _: Reply.json({})) as sink:
        text = config(database_url, sink)
        http = ServerProcess(tmp_path, text, name="http").start(args=["--no-workers"])
        worker = ServerProcess(tmp_path, text, name="worker", port=free_port())
        try:
            post_alert(http)
            # The HTTP-only process routed the new incident (its escalation is stored in
            # the ingest transaction) and runs no step itself: the page waits for a worker.
            wait_for("the escalation", lambda: escalations(database_url) == 1, timeout=20)
            time.sleep(1.5)  # longer than a worker's poll interval
            assert notifications(database_url) == []
            assert sink.requests == []

            worker.start_worker()
            wait_for("the page at the sink", lambda: len(sink.requests) == 1)
            wait_for("the result stored", lambda: notifications(database_url)[0][0] == "sent")
            ((_, claimed_by),) = notifications(database_url)
            assert worker.proc is not None and claimed_by is not None
            assert int(claimed_by.split(":")[1]) == worker.proc.pid
            assert [r.path for r in sink.requests] == ["/alice"]
        finally:
            worker.stop()
            http.stop()


@pytest.mark.slow
@pytest.mark.postgres
def test_http_only_replica_and_a_worker_on_postgresql(tmp_path: Path, pg_database_url: str) -> None:
    http_only_then_worker(tmp_path, pg_database_url)


@pytest.mark.slow
def test_http_only_and_one_worker_share_a_sqlite_file_and_a_second_worker_is_refused(
    tmp_path: Path,
) -> None:
    database_url = f"sqlite:///{tmp_path}/firebell.db"
    http_only_then_worker(tmp_path, database_url)

    with start(lambda _: Reply.json({})) as sink:
        text = config(database_url, sink)
        first = ServerProcess(tmp_path, text, name="first-worker").start_worker()
        try:
            second = first.cli("worker")
            assert second.returncode == 2
            assert "already runs the workers" in second.stderr
            assert f"pid {first.proc.pid if first.proc else '?'}" in second.stderr
            serving = first.cli("serve", "--port", str(free_port()))
            assert serving.returncode == 2
            assert "already runs the workers" in serving.stderr
        finally:
            first.stop()
        # The lock goes with the process: a new worker starts once the first has stopped.
        again = ServerProcess(tmp_path, text, name="next-worker").start_worker()
        again.stop()
