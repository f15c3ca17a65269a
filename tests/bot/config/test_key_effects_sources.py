"""Source keys whose effect no other test showed, through the real app's webhooks on
SQLite and PostgreSQL: Alertmanager basic auth, the Sentry legacy URL token, the
generic source's own token, and the Nginx threshold's sliding window."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient

from bot.config import parse_config
from bot.roles import create_app
from tests.support.webhook_payloads import am_alert, am_webhook

API_TOKEN = "api-token-0123456789"
JSON = {"Content-Type": "application/json"}


@contextmanager
def serving(database_url: str, sources: str, extra: str = "") -> Iterator[TestClient]:
    config = (
        f'database_url: "{database_url}"\napi_tokens: ["{API_TOKEN}"]\n{extra}sources:\n{sources}'
    )
    with TestClient(create_app(parse_config(config, {}))) as client:
        yield client


def basic(username: str, password: str) -> dict[str, str]:
    pair = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {**JSON, "Authorization": f"Basic {pair}"}


def test_alertmanager_basic_auth_is_the_credential(database_url: str) -> None:
    sources = "  alertmanager:\n    basic_auth: {username: am, password: am-password-123}\n"
    body = am_webhook([am_alert("HighErrorRate")])
    with serving(database_url, sources) as client:
        right = client.post(
            "/webhooks/alertmanager", content=body, headers=basic("am", "am-password-123")
        )
        assert right.status_code == 202, right.text
        for username, password in [("am", "wrong-password"), ("other", "am-password-123")]:
            refused = client.post(
                "/webhooks/alertmanager", content=body, headers=basic(username, password)
            )
            assert refused.status_code == 401, (username, password)


def test_sentry_legacy_token_is_the_url_path(database_url: str) -> None:
    sources = "  sentry:\n    legacy_token: legacy-token-0123456789\n"
    body = json.dumps(
        {"id": "9", "project_slug": "checkout", "level": "error", "message": "m"}
    ).encode()
    with serving(database_url, sources) as client:
        right = client.post(
            "/webhooks/sentry/legacy/legacy-token-0123456789", content=body, headers=JSON
        )
        assert right.status_code == 202, right.text
        wrong = client.post(
            "/webhooks/sentry/legacy/another-token-0000", content=body, headers=JSON
        )
        assert wrong.status_code == 401


def test_generic_token_is_the_credential(database_url: str) -> None:
    sources = "  generic:\n    token: generic-token-0123456789\n"
    body = b'{"title": "disk full", "severity": "warning", "service": "api"}'
    with serving(database_url, sources) as client:
        own = {**JSON, "Authorization": "Bearer generic-token-0123456789"}
        assert client.post("/webhooks/generic", content=body, headers=own).status_code == 202
        # The source's own token replaces api_tokens for this webhook.
        api = {**JSON, "Authorization": f"Bearer {API_TOKEN}"}
        assert client.post("/webhooks/generic", content=body, headers=api).status_code == 401


def test_services_map_any_sources_sender_name_to_a_service(database_url: str) -> None:
    extra = 'services: {orders-db: orders, "shop.example.org": global-shop}\n'
    sources = '  nginx:\n    services: {"shop.example.org": shop}\n'
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    with serving(database_url, sources, extra) as client:
        body = am_webhook([am_alert("Down", service="orders-db")])
        assert (
            client.post(
                "/webhooks/alertmanager", content=body, headers={**auth, **JSON}
            ).status_code
            == 202
        )
        line = nginx_line("shop.example.org", "09:00:00")
        assert client.post("/webhooks/nginx", content=line, headers=auth).status_code == 202
        items = client.get("/api/v1/alerts", headers=auth).json()["items"]
    # The global map renames Alertmanager's service; Nginx's own map wins over it.
    assert sorted((a["source"], a["service"]) for a in items) == [
        ("alertmanager", "orders"),
        ("nginx", "shop"),
    ]


def nginx_line(server: str, clock: str) -> str:
    return (
        f"2026/12/01 {clock} [error] 7#7: *1 connect() failed (111: Connection refused) "
        f"while connecting to upstream, client: 10.0.0.1, server: {server}, "
        f'request: "GET / HTTP/1.1", upstream: "http://10.0.0.9:8080/", host: "{server}"'
    )


def test_nginx_threshold_window_is_the_sliding_window(database_url: str) -> None:
    """Three lines 40 s apart: never three within 1 minute, but three within 2."""

    def status_after_three_lines(window: str) -> str:
        sources = f"  nginx:\n    threshold: {{count: 3, window: {window}}}\n"
        server = f"w{window}.example.org"
        lines = [nginx_line(server, clock) for clock in ("09:00:00", "09:00:40", "09:01:20")]
        auth = {"Authorization": f"Bearer {API_TOKEN}"}
        with serving(database_url, sources) as client:
            posted = client.post(
                "/webhooks/nginx",
                content="\n".join(lines),
                headers={**auth, "Content-Type": "text/plain"},
            )
            assert posted.status_code == 202, posted.text
            items = client.get("/api/v1/alerts", params={"source": "nginx"}, headers=auth)
            (alert,) = [a for a in items.json()["items"] if server in json.dumps(a)]
            assert alert["occurrences"] == 3
            return str(alert["status"])

    assert status_after_three_lines("1m") == "pending"
    assert status_after_three_lines("2m") == "firing"
