"""End to end: nginx error.log lines over UDP syslog into a real `firebell serve`, with
the nginx host in Asia/Kolkata (UTC+05:30), on SQLite and PostgreSQL. The alert's times
are the lines' times in UTC (over the webhook too), a burst across a minute boundary
fires, and a late batch of lines spread over minutes (all arriving at once) does not."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server_process import ServerProcess, free_port
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow

API_TOKEN = "api-token-0123456789"
CONFIG = """\
database_url: {database_url}
api_tokens: ["{token}"]
sources:
  nginx:
    syslog: {{listen: "127.0.0.1:{port}"}}
    services: {{"burst.example.org": shop, "spread.example.org": blog, "hook.example.org": hooks}}
    time_zone: Asia/Kolkata
    threshold: {{count: 5, window: 1m}}
    resolve_after: 10m
"""


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    port = free_port()
    text = CONFIG.format(database_url=database_url, token=API_TOKEN, port=port)
    proc = ServerProcess(tmp_path, text)
    proc.syslog_port = port  # type: ignore[attr-defined]
    if not database_url.startswith("sqlite"):
        result = proc.cli("db", "upgrade")
        assert result.returncode == 0, result.stderr
    with proc:
        yield proc


def syslog_frame(server: str, stamp: str) -> bytes:
    """What nginx's `error_log syslog:server=...` sends: RFC 3164 around the whole line."""
    line = (
        f"{stamp} [error] 31#31: *7 connect() failed (111: Connection refused) while "
        f"connecting to upstream, client: 203.0.113.9, server: {server}, "
        f'request: "GET /cart HTTP/1.1", upstream: "http://10.1.0.4:8080/cart", '
        f'host: "{server}"'
    )
    return f"<11>Jul 15 {stamp[11:]} web-1 nginx: {line}".encode()


def alerts_by_service(http: httpx.Client) -> dict[str, dict[str, Any]]:
    items = http.get("/api/v1/alerts", params={"source": "nginx"}).json()["items"]
    return {item["service"]: item for item in items}


def occurrences(http: httpx.Client, service: str) -> int:
    alert = alerts_by_service(http).get(service)
    return int(alert["occurrences"]) if alert else 0


def test_local_times_and_a_sliding_threshold_over_syslog(server: ServerProcess) -> None:
    port = server.syslog_port  # type: ignore[attr-defined]
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
        httpx.Client(base_url=server.base_url, headers=headers, timeout=10) as http,
    ):

        def send(name: str, clocks: list[str]) -> None:
            for clock in clocks:
                udp.sendto(syslog_frame(name, f"2026/07/15 {clock}"), ("127.0.0.1", port))

        # A lone line, then 3 lines at 14:29:58-59 and 1 at 14:30:01 (local time): five
        # lines, but never five within one minute, so still pending.
        send("burst.example.org", ["14:29:00", "14:29:58", "14:29:58", "14:29:59", "14:30:01"])
        wait_for("five burst lines", lambda: occurrences(http, "shop") == 5)
        assert alerts_by_service(http)["shop"]["status"] == "pending"
        # The sixth makes five within 14:29:02-14:30:02 (the lone line slid out): it fires.
        send("burst.example.org", ["14:30:02"])
        wait_for("the burst to fire", lambda: alerts_by_service(http)["shop"]["status"] == "firing")
        shop = alerts_by_service(http)["shop"]
        assert shop["starts_at"] == "2026-07-15T09:00:02+00:00"  # 14:30:02 at +05:30

        # A late batch from a shipper: six lines 30 s apart, all arriving now.
        spread = ["14:00:00", "14:00:30", "14:01:00", "14:01:30", "14:02:00", "14:02:30"]
        send("spread.example.org", spread)
        wait_for("six spread lines", lambda: occurrences(http, "blog") == 6)
        blog = alerts_by_service(http)["blog"]
        assert blog["status"] == "pending"
        assert blog["starts_at"] == "2026-07-15T08:32:30+00:00"

        # The webhook reads the same zone (here across midnight into the UTC day before).
        frame = syslog_frame("hook.example.org", "2026/07/15 05:15:00")
        posted = http.post(
            "/webhooks/nginx",
            content=frame.split(b"nginx: ", 1)[1],
            headers={"Content-Type": "text/plain"},
        )
        assert posted.status_code == 202, posted.text
        assert alerts_by_service(http)["hooks"]["starts_at"] == "2026-07-14T23:45:00+00:00"

        incidents = http.get("/api/v1/incidents").json()["items"]
        assert [incident["service"] for incident in incidents] == ["shop"]
