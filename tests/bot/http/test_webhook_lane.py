"""The plain-ASGI webhook lane answers like the rest of the API: JSON errors naming the
problem, the right status codes, request ids, and metric labels without secrets."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.config import Settings
from bot.http.webhooks import find_route, sentry_legacy_webhook
from bot.roles import create_app
from tests.support.webhook_payloads import sentry_headers, sentry_issue


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/lane.db", max_body_bytes=1000))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def generic(title: str) -> dict[str, object]:
    return {"title": title, "severity": "warning", "service": "api"}


def test_accepts_and_answers_with_a_request_id(client: TestClient) -> None:
    response = client.post("/webhooks/generic", json=generic("disk full"))
    assert response.status_code == 202
    assert response.json()["decisions"] == {"new": 1}
    assert response.headers["content-type"] == "application/json"
    assert len(response.headers["x-request-id"]) == 32
    again = client.post("/webhooks/generic/", json=generic("disk full"))  # trailing slash
    assert again.json()["decisions"] == {"repeat": 1}
    assert again.headers["x-request-id"] != response.headers["x-request-id"]


def test_the_senders_request_id_is_kept(client: TestClient) -> None:
    response = client.post(
        "/webhooks/generic", json=generic("x"), headers={"X-Request-ID": "am-42"}
    )
    assert response.headers["x-request-id"] == "am-42"


def test_unknown_webhook_is_404_and_wrong_method_405(client: TestClient) -> None:
    missing = client.post("/webhooks/pagerduty", json={})
    assert missing.status_code == 404
    assert missing.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "no such webhook: /webhooks/pagerduty",
    }
    assert missing.headers["content-type"] == "application/problem+json"
    wrong = client.get("/webhooks/alertmanager")
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "POST"


def test_oversized_body_is_413_before_anything_is_parsed(client: TestClient) -> None:
    response = client.post(
        "/webhooks/nginx", content=b"x" * 1001, headers={"content-type": "text/plain"}
    )
    assert response.status_code == 413
    assert response.json()["detail"] == "body exceeds 1000 bytes"
    metrics = client.get("/metrics").text
    assert 'firebell_requests_rejected_total{reason="too_large",source="nginx"} 1.0' in metrics


def test_legacy_sentry_token_stays_out_of_metric_labels(client: TestClient) -> None:
    assert find_route("/webhooks/sentry/legacy/s3cret") == (
        "/webhooks/sentry/legacy/{token}",
        sentry_legacy_webhook,
        "s3cret",
    )
    assert find_route("/webhooks/sentry/legacy/a/b") is None
    client.post("/webhooks/sentry/legacy/s3cret", json={})
    assert "s3cret" not in client.get("/metrics").text


def test_signed_sentry_request_with_a_stale_timestamp_is_refused(tmp_path: Path) -> None:
    now = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    secret = "sentry-secret-0123456789"
    database = tmp_path / "sentry.db"
    settings = Settings.model_validate(
        {"database_url": f"sqlite:///{database}", "sources": {"sentry": {"client_secret": secret}}}
    )
    app = create_app(settings, clock=lambda: now)
    body = sentry_issue("resolved")
    with TestClient(app, raise_server_exceptions=False) as client:
        month_old = (now - timedelta(days=30)).timestamp()
        replay = client.post(
            "/webhooks/sentry",
            content=body,
            headers=sentry_headers(body, secret, timestamp=month_old),
        )
        assert replay.status_code == 401
        assert "Sentry-Hook-Timestamp" in replay.json()["detail"]
        missing = {
            k: v for k, v in sentry_headers(body, secret).items() if k != "Sentry-Hook-Timestamp"
        }
        assert client.post("/webhooks/sentry", content=body, headers=missing).status_code == 401
        with sqlite3.connect(database) as db:
            assert db.execute("SELECT count(*) FROM inbox").fetchone() == (0,)
        metrics = client.get("/metrics").text
        assert (
            'firebell_requests_rejected_total{reason="unauthorized",source="sentry"} 2.0' in metrics
        )

        fresh = client.post(
            "/webhooks/sentry",
            content=body,
            headers=sentry_headers(body, secret, timestamp=now.timestamp() - 10),
        )
        assert fresh.status_code == 202, fresh.text
        with sqlite3.connect(database) as db:
            assert db.execute("SELECT count(*) FROM inbox").fetchone() == (1,)
