"""End to end against a real `firebell serve` process on a loopback port, on SQLite and
PostgreSQL: every source in, the read API out, and the error answers senders rely on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server_process import ServerProcess
from tests.support.webhook_payloads import (
    am_alert,
    am_webhook,
    nginx_lines,
    sentry_headers,
    sentry_issue,
)

pytestmark = pytest.mark.slow

TOKENS = {
    "FIREBELL_API_TOKEN": "api-token-0123456789",
    "AM_TOKEN": "am-token-0123456789",
    "SENTRY_CLIENT_SECRET": "sentry-secret-0123456789",
    "NGINX_TOKEN": "nginx-token-0123456789",
}
CONFIG = """\
database_url: {database_url}
api_tokens: ["${{FIREBELL_API_TOKEN}}"]
max_body_bytes: 65536
sources:
  alertmanager:
    bearer_token: "${{AM_TOKEN}}"
  sentry:
    client_secret: "${{SENTRY_CLIENT_SECRET}}"
    services: {{backend: api}}
  nginx:
    token: "${{NGINX_TOKEN}}"
    services: {{"api.example.com": api}}
    threshold: {{count: 5, window: 1m}}
    resolve_after: 10m
grouping:
  group_by: [service, alertname]
  reopen_window: 30m
"""
API = {"Authorization": f"Bearer {TOKENS['FIREBELL_API_TOKEN']}"}
AM = {"Authorization": f"Bearer {TOKENS['AM_TOKEN']}", "Content-Type": "application/json"}


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path, CONFIG.format(database_url=database_url), env=TOKENS)
    if not database_url.startswith("sqlite"):
        result = proc.cli("db", "upgrade")
        assert result.returncode == 0, result.stderr
    with proc:
        yield proc


def test_every_source_lands_in_one_incident_per_service(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        posted = http.post(
            "/webhooks/alertmanager",
            content=am_webhook([am_alert("HighErrorRate"), am_alert("HighErrorRate")]),
            headers=AM,
        )
        assert posted.status_code == 202, posted.text
        assert posted.json()["decisions"] == {"new": 1, "repeat": 1}

        body = sentry_issue("created")
        sentry = http.post(
            "/webhooks/sentry", content=body,
            headers=sentry_headers(body, TOKENS["SENTRY_CLIENT_SECRET"]),
        )  # fmt: skip
        assert sentry.status_code == 202, sentry.text

        nginx = http.post(
            "/webhooks/nginx",
            content=nginx_lines(50),
            headers={"Authorization": f"Bearer {TOKENS['NGINX_TOKEN']}",
                     "Content-Type": "text/plain"},
        )  # fmt: skip
        assert nginx.status_code == 202, nginx.text

        alerts = http.get("/api/v1/alerts", headers=API).json()["items"]
        by_source = {a["source"]: a for a in alerts}
        assert set(by_source) == {"alertmanager", "sentry", "nginx"}
        assert by_source["alertmanager"]["occurrences"] == 2
        assert by_source["nginx"]["occurrences"] == 50  # 50 lines, one fingerprint
        assert by_source["nginx"]["status"] == "firing"  # threshold of 5 reached
        assert by_source["sentry"]["service"] == "api"  # project slug mapped

        incidents = http.get("/api/v1/incidents", headers=API).json()["items"]
        assert len(incidents) == 1  # correlated through the service
        incident = incidents[0]
        assert incident["alert_count"] == 3
        assert incident["severity"] == "critical"
        detail = http.get(f"/api/v1/incidents/{incident['id']}", headers=API).json()
        assert len(detail["alerts"]) == 3
        assert detail["timeline"][0]["kind"] == "created"

        resolved = sentry_issue("resolved")
        assert http.post(
            "/webhooks/sentry", content=resolved,
            headers=sentry_headers(resolved, TOKENS["SENTRY_CLIENT_SECRET"]),
        ).status_code == 202  # fmt: skip
        sentry_alert = http.get("/api/v1/alerts?source=sentry", headers=API).json()["items"][0]
        assert sentry_alert["status"] == "resolved"

        ack = http.post(f"/api/v1/incidents/{incident['id']}/ack", headers=API)
        assert ack.status_code == 200 and ack.json()["status"] == "acknowledged"
        again = http.post(f"/api/v1/incidents/{incident['id']}/ack", headers=API)
        assert again.status_code == 409
        done = http.post(f"/api/v1/incidents/{incident['id']}/resolve", headers=API,
                         json={"note": "rolled back"})  # fmt: skip
        assert done.json()["status"] == "resolved"

        metrics = http.get("/metrics").text
        assert 'firebell_alerts_received_total{source="alertmanager"} 2.0' in metrics
        assert 'firebell_alerts_deduplicated_total{source="nginx"}' in metrics
        assert http.get("/readyz").status_code == 200


def test_bad_input_gets_a_clear_error_and_writes_nothing(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        cases = [
            (b"{not json", AM, 400),
            (b'{"version":"4","alerts":"nope"}', AM, 422),
            (am_webhook([am_alert("A")]), {"Authorization": "Bearer wrong"}, 401),
            (am_webhook([am_alert("A")]), {}, 401),
            (b"x" * 70000, AM, 413),
        ]
        for body, headers, status in cases:
            response = http.post("/webhooks/alertmanager", content=body, headers=headers)
            assert response.status_code == status, (status, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["status"] == status and response.json()["detail"]
        shape = http.post("/webhooks/alertmanager", content=b'{"version":"4","alerts":"nope"}',
                          headers=AM)  # fmt: skip
        assert shape.json()["field"] == "alerts"

        body = sentry_issue("created")
        forged = sentry_headers(body, "not-the-secret")
        assert http.post("/webhooks/sentry", content=body, headers=forged).status_code == 401
        unsigned = {k: v for k, v in forged.items() if k != "Sentry-Hook-Signature"}
        assert http.post("/webhooks/sentry", content=body, headers=unsigned).status_code == 401

        odd = json.dumps({"action": "created", "data": {}}).encode()
        recorded = http.post(
            "/webhooks/sentry",
            content=odd,
            headers=sentry_headers(odd, TOKENS["SENTRY_CLIENT_SECRET"], "seer"),
        )
        assert recorded.status_code == 202 and recorded.json()["alerts"] == 0  # fmt: skip

        assert http.get("/api/v1/alerts").status_code == 401
        assert http.get("/api/v1/alerts", headers=API).json()["items"] == []
        assert http.get("/api/v1/incidents/999", headers=API).status_code == 404
        assert http.get("/api/v1/alerts?severity=loud", headers=API).status_code == 422

        garbage = http.post(
            "/webhooks/nginx", content=b"this is not an nginx line\nnor this",
            headers={"Authorization": f"Bearer {TOKENS['NGINX_TOKEN']}"},
        )  # fmt: skip
        assert garbage.status_code == 202 and garbage.json()["unparsed_lines"] == 2
        assert "firebell_unparsed_lines_total" in http.get("/metrics").text


def test_accepted_alerts_survive_kill_9(database_url: str, tmp_path: Path) -> None:
    proc = ServerProcess(tmp_path, CONFIG.format(database_url=database_url), env=TOKENS)
    if not database_url.startswith("sqlite"):
        assert proc.cli("db", "upgrade").returncode == 0
    proc.start()
    accepted = 0
    with httpx.Client(base_url=proc.base_url, timeout=10) as http:
        for i in range(30):
            body = am_webhook([am_alert(f"Crash{i % 7}", instance=f"h{j}") for j in range(10)])
            if http.post("/webhooks/alertmanager", content=body, headers=AM).status_code == 202:
                accepted += 10
    proc.kill()  # no graceful shutdown: only what was committed before each 202 survives
    proc.start()
    try:
        with httpx.Client(base_url=proc.base_url, timeout=10) as http:
            items = http.get("/api/v1/alerts?limit=1000", headers=API).json()["items"]
        assert accepted == 300
        assert sum(a["occurrences"] for a in items) == accepted
    finally:
        proc.stop()


def test_database_down_answers_503_with_retry_after(tmp_path: Path) -> None:
    dead = "postgresql://postgres@127.0.0.1:1/nowhere"
    server = ServerProcess(tmp_path, CONFIG.format(database_url=dead), env=TOKENS)
    with server as proc, httpx.Client(base_url=proc.base_url, timeout=30) as http:
        response = http.post(
            "/webhooks/alertmanager", content=am_webhook([am_alert("A")]), headers=AM
        )
        for answer in (response, http.get("/readyz"), http.get("/api/v1/alerts", headers=API)):
            assert answer.status_code == 503, answer.text
            assert answer.headers["retry-after"] == "5"
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.json()["status"] == 503 and answer.json()["detail"]


def test_two_processes_racing_on_postgres(pg_database_url: str, tmp_path: Path) -> None:
    """Two real servers on one PostgreSQL receive the same alerts at the same moment:
    exactly one open alert per fingerprint and one incident per group."""
    import threading

    from sqlalchemy import text

    from routing.storage.database import make_engine

    config = CONFIG.format(database_url=pg_database_url)
    first = ServerProcess(tmp_path, config, env=TOKENS, name="one")
    second = ServerProcess(tmp_path, config, env=TOKENS, name="two")
    with first, second:
        bodies = [
            am_webhook([am_alert(f"Race{g}", service=f"svc{g % 3}", instance=f"i{n}")
                        for g in range(6) for n in range(4)])
            for _ in range(10)
        ]  # fmt: skip
        barrier = threading.Barrier(4)
        statuses: list[int] = []

        def post_all(base_url: str) -> None:
            with httpx.Client(base_url=base_url, timeout=30) as http:
                barrier.wait()
                for body in bodies:
                    statuses.append(
                        http.post("/webhooks/alertmanager", content=body, headers=AM).status_code
                    )

        threads = [
            threading.Thread(target=post_all, args=(srv.base_url,))
            for srv in (first, second, first, second)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert statuses == [202] * 40
    engine = make_engine(pg_database_url)
    with engine.connect() as conn:
        per_fingerprint = conn.execute(
            text("SELECT fingerprint, count(*) FROM alert WHERE status = 'firing' "
                 "GROUP BY fingerprint")
        ).all()  # fmt: skip
        incidents = conn.execute(text("SELECT group_key FROM incident")).scalars().all()
        occurrences = conn.execute(text("SELECT sum(occurrences) FROM alert")).scalar_one()
    engine.dispose()
    assert len(per_fingerprint) == 24 and all(n == 1 for _, n in per_fingerprint)
    assert len(incidents) == len(set(incidents)) == 6
    assert occurrences == 40 * 24


def test_serve_refuses_an_unmigrated_postgres(tmp_path: Path) -> None:
    import psycopg

    from tests.conftest import PG_ADMIN_URL, _pg_url_for

    name = "fb_unmigrated_" + tmp_path.name[-8:].replace("-", "_")
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.Error:
        pytest.skip("PostgreSQL unreachable")
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        proc = ServerProcess(tmp_path, CONFIG.format(database_url=_pg_url_for(name)), env=TOKENS)
        result = proc.cli("serve", "--port", str(proc.port))
        assert result.returncode == 2
        assert "run `firebell db upgrade` first" in result.stderr
        assert proc.cli("db", "upgrade").returncode == 0
        with proc:
            assert httpx.get(proc.base_url + "/readyz").status_code == 200
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
