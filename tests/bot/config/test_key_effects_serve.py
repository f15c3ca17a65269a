"""Keys of the serving process whose effect no other test showed: public_url (the links
in a page), database.pool_timeout (how long a request waits for a pooled PostgreSQL
connection) and intake.stall_after (when /readyz calls a silent loop stalled)."""

from __future__ import annotations

import time
from contextlib import ExitStack

import pytest
import sqlalchemy.exc
from fastapi.testclient import TestClient

from bot.config import parse_config
from bot.roles import create_app
from tests.bot.workers.test_paging_e2e import JSON, paging_app, run
from tests.support.loopback_http import Reply, start
from tests.support.paging import Clock, am_payload


def page_text(database_url: str, alertname: str, extra: str) -> str:
    clock = Clock()
    with (
        start(lambda _: Reply.json({})) as sink,
        paging_app(database_url, sink, clock, extra=extra) as (client, worker),
    ):
        response = client.post(
            "/webhooks/alertmanager", content=am_payload(alertname), headers=JSON
        )
        assert response.status_code == 202, response.text
        run(client, worker, clock)
        (page,) = sink.requests
        return str(page.json()["message"])


def test_public_url_is_the_base_of_the_links_in_a_page(database_url: str) -> None:
    assert "fb.example.org" not in page_text(database_url, "Unlinked", "")
    linked = page_text(database_url, "Linked", "public_url: https://fb.example.org/")
    assert "Incident: https://fb.example.org/incidents/2" in linked
    assert "https://fb.example.org/api/v1/incidents/2/ack" in linked


@pytest.mark.postgres
def test_pool_timeout_bounds_the_wait_for_a_pooled_connection(pg_database_url: str) -> None:
    def wait_for_a_connection(pool_timeout: str) -> float:
        config = f"database_url: {pg_database_url}\ndatabase: {{pool_timeout: {pool_timeout}}}\n"
        engine = create_app(parse_config(config, {})).state.runtime.engine
        try:
            with ExitStack() as held:
                # Take every connection the pool may open: the next one has to wait.
                capacity = engine.pool.size() + engine.pool._max_overflow
                for _ in range(capacity):
                    held.enter_context(engine.connect())
                started = time.monotonic()
                with pytest.raises(sqlalchemy.exc.TimeoutError):
                    engine.connect()
                return time.monotonic() - started
        finally:
            engine.dispose()

    assert 0.9 <= wait_for_a_connection("1s") < 1.8
    assert wait_for_a_connection("3s") >= 2.9


def test_stall_after_is_how_long_a_silent_loop_may_go_before_readyz_fails(
    database_url: str,
) -> None:
    def readiness_after_silence(stall_after: str) -> tuple[int, str]:
        config = f'database_url: "{database_url}"\nintake: {{stall_after: {stall_after}}}\n'
        app = create_app(parse_config(config, {}))
        with TestClient(app) as client:
            # A loop of this process that stamped once and then went quiet.
            app.state.runtime.heartbeats.register("quiet loop").stamp()
            time.sleep(2.2)
            response = client.get("/readyz")
            return response.status_code, str(response.json()["checks"]["quiet loop"])

    status, check = readiness_after_silence("2s")
    assert status == 503 and "stalled" in check
    assert readiness_after_silence("10s") == (200, "ok")
