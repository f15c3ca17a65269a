"""Replicas for real: one `firebell serve --no-workers` and two `firebell worker`
processes on one PostgreSQL, so two quiet sweepers race for the same Nginx alerts. Each
quiet period must give each alert one resolve and its incident one `resolved` entry."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from bot.workers.sweeper import sweep_interval
from routing.storage.database import make_engine
from routing.storage.timeline import TIMELINE
from tests.support.server_process import ServerProcess
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow

API_TOKEN = "api-token-0123456789"
SERVERS = [f"s{i}.example.org" for i in range(10)]
SERVICES = ", ".join(f'"{server}": svc{i}' for i, server in enumerate(SERVERS))
CONFIG = f"""\
database_url: {{database_url}}
api_tokens: ["{API_TOKEN}"]
sources:
  nginx:
    services: {{{{{SERVICES}}}}}
    resolve_after: 1s
"""


@pytest.fixture
def replicas(pg_database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    text = CONFIG.format(database_url=pg_database_url)
    with ExitStack() as stack:
        web = ServerProcess(tmp_path, text, name="web")
        stack.callback(web.stop)
        web.start(args=["--no-workers"])
        for index in range(2):
            worker = ServerProcess(tmp_path, text, name=f"worker{index}")
            stack.callback(worker.stop)
            worker.start_worker()
        yield web


def post_lines(http: httpx.Client) -> None:
    body = "\n".join(
        f"2026/12/01 09:00:00 [error] 7#7: *1 connect() failed (111: Connection refused) "
        f"while connecting to upstream, client: 10.0.0.1, server: {server}, "
        f'request: "GET / HTTP/1.1", upstream: "http://10.0.0.9:8080/", host: "{server}"'
        for server in SERVERS
    )
    answer = http.post("/webhooks/nginx", content=body, headers={"Content-Type": "text/plain"})
    assert answer.status_code == 202, answer.text


def resolved_entries(database_url: str) -> list[int]:
    """How many `resolved` entries each incident has."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            query = (
                sa.select(sa.func.count())
                .where(TIMELINE.c.kind == "resolved")
                .group_by(TIMELINE.c.incident_id)
            )
            return [int(n) for n in conn.execute(query).scalars()]
    finally:
        engine.dispose()


def test_two_worker_processes_resolve_each_quiet_alert_once(
    replicas: ServerProcess, pg_database_url: str
) -> None:
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    with httpx.Client(base_url=replicas.base_url, headers=headers, timeout=10) as http:

        def statuses() -> list[str]:
            items = http.get("/api/v1/alerts", params={"source": "nginx"}).json()["items"]
            return [item["status"] for item in items]

        for rounds in (1, 2):  # resolve, reopen within the reopen window, resolve again
            post_lines(http)
            wait_for("the alerts to resolve", lambda: statuses() == ["resolved"] * len(SERVERS))
            wait_for(
                "every incident resolved",
                lambda: len(resolved_entries(pg_database_url)) == len(SERVERS),
            )
            # Nothing may resolve twice, however many more sweeps both workers run.
            time.sleep(4 * sweep_interval(timedelta(seconds=1)))
            assert resolved_entries(pg_database_url) == [rounds] * len(SERVERS)
