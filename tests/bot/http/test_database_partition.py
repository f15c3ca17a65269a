"""A real `firebell serve` behind a TCP proxy to PostgreSQL that black-holes or resets the
connections: webhooks and reads answer 503 with Retry-After within a few seconds, /readyz
within a second, and once the network is back everything works again without a restart,
with nothing acknowledged before lost."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server_process import ServerProcess
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import wait_for
from tests.support.webhook_payloads import am_alert, am_webhook

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

# The requests' own deadline is far off, so only the database deadlines can answer 503 in
# time: statements are cut after 1.5 s and a new connection gives up after 2 s.
CONFIG = """\
database_url: {database_url}
database:
  statement_timeout: 1s
  connect_timeout: 2s
intake:
  request_timeout: 20s
"""
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    with TcpProxy(("127.0.0.1", 5432)) as proxy:
        yield proxy


@pytest.fixture
def server(pg_database_url: str, proxy: TcpProxy, tmp_path: Path) -> Iterator[ServerProcess]:
    database = pg_database_url.rpartition("/")[2]
    through_proxy = f"postgresql://postgres@127.0.0.1:{proxy.port}/{database}"
    with ServerProcess(tmp_path, CONFIG.format(database_url=through_proxy)) as server:
        yield server


def post_alert(http: httpx.Client, name: str, timeout: float = 30) -> httpx.Response:
    body = am_webhook([am_alert(name, instance=f"{name}-host")])
    return http.post("/webhooks/alertmanager", content=body, headers=JSON, timeout=timeout)


def timed(call: object) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()  # type: ignore[operator]
    return response, time.monotonic() - started


def stored_alertnames(http: httpx.Client) -> set[str]:
    items = http.get("/api/v1/alerts", params={"limit": 1000}).json()["items"]
    return {item["labels"]["alertname"] for item in items}


def assert_retry_later(response: httpx.Response, elapsed: float, within: float) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"].isdigit()
    assert elapsed < within, f"503 only after {elapsed:.1f}s"


def test_a_partition_answers_503_in_seconds_and_heals_by_itself(
    server: ServerProcess, proxy: TcpProxy
) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        assert post_alert(http, "BeforePartition").status_code == 202

        proxy.black_hole()
        ready, elapsed = timed(lambda: http.get("/readyz"))
        assert ready.status_code == 503 and elapsed < 1.0, (ready.status_code, elapsed)
        posted, elapsed = timed(lambda: post_alert(http, "DuringPartition"))
        assert_retry_later(posted, elapsed, within=6)
        read, elapsed = timed(lambda: http.get("/api/v1/alerts"))
        assert_retry_later(read, elapsed, within=6)
        again, elapsed = timed(lambda: post_alert(http, "StillPartitioned"))
        assert_retry_later(again, elapsed, within=6)

        proxy.heal()
        wait_for("a webhook to be stored again", lambda: post_alert(http, "Healed").is_success)
        wait_for("/readyz to be ready", lambda: http.get("/readyz").status_code == 200)
        assert {"BeforePartition", "Healed"} <= stored_alertnames(http)
    assert "no answer from PostgreSQL" in server.log()


def test_a_database_gone_answers_503_at_once_and_comes_back(
    server: ServerProcess, proxy: TcpProxy
) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        assert post_alert(http, "BeforeRestart").status_code == 202

        proxy.go_down()  # connections reset, new ones refused: a database restart
        posted, elapsed = timed(lambda: post_alert(http, "WhileDown"))
        assert_retry_later(posted, elapsed, within=1)
        ready, elapsed = timed(lambda: http.get("/readyz"))
        assert ready.status_code == 503 and elapsed < 1.0, (ready.status_code, elapsed)

        proxy.heal()
        wait_for("a webhook to be stored again", lambda: post_alert(http, "Restarted").is_success)
        wait_for("/readyz to be ready", lambda: http.get("/readyz").status_code == 200)
        assert {"BeforeRestart", "Restarted"} <= stored_alertnames(http)
