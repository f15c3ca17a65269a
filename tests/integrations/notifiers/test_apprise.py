"""Apprise delivery against a loopback sink: the documented json:// body, and outcome mapping."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from integrations.notifiers.apprise import AppriseNotifier, scheme_of
from integrations.notifiers.base import DeliveryOutcome, DeliveryResult, Notification
from tests.support.loopback_http import Handler, RecordedRequest, Reply, start
from tests.support.notifier_sample import sample_notification
from tests.support.paths import SHARED_FIXTURES

FIXTURES = SHARED_FIXTURES / "apprise"


def _send(notifier: AppriseNotifier, url: str, n: Notification) -> DeliveryResult:
    return asyncio.run(notifier.send(url, n))


def _sink(status: int = 200) -> Handler:
    def handle(request: RecordedRequest) -> Reply:
        return Reply.text("ok" if status < 300 else "broken", status=status)

    return handle


def test_json_url_posts_the_documented_body() -> None:
    with start(_sink()) as sink:
        port = sink.base_url.rsplit(":", 1)[1]
        result = _send(AppriseNotifier(), f"json://127.0.0.1:{port}/alerts", sample_notification())
    assert result.outcome is DeliveryOutcome.OK, result.detail
    assert result.message_ref is None
    [request] = sink.requests
    assert request.method == "POST" and request.path == "/alerts"
    assert request.headers["content-type"] == "application/json"
    body = request.json()
    assert list(body) == ["version", "title", "message", "attachments", "type"]
    assert body["version"] == "1.0"
    assert body["attachments"] == []
    assert body["type"] == "failure"
    assert body["title"] == "[CRITICAL] High error rate on checkout API"
    assert "node-7.prod:9100 API 5xx above 5% for 10m" in body["message"]
    assert "node-9.prod:9100 API 5xx above 5% for 10m" in body["message"]
    assert "To acknowledge: /incident ack 42" in body["message"]


@pytest.mark.parametrize(
    ("overrides", "notify_type"),
    [
        ({"severity": "warning"}, "warning"),
        ({"severity": "info"}, "info"),
        ({"severity": "error"}, "failure"),
        ({"status": "resolved"}, "success"),
    ],
)
def test_notify_type_follows_severity_and_status(overrides: dict, notify_type: str) -> None:
    from routing.intake.alert import Severity

    if "severity" in overrides:
        overrides = {"severity": Severity(overrides["severity"])}
    with start(_sink()) as sink:
        port = sink.base_url.rsplit(":", 1)[1]
        result = _send(
            AppriseNotifier(), f"json://127.0.0.1:{port}/a", sample_notification(**overrides)
        )
    assert result.ok
    assert sink.requests[0].json()["type"] == notify_type


def test_body_keys_match_the_captured_apprise_request() -> None:
    """The real capture (Apprise 2.2.0) and ours have the same shape; skip when absent."""
    captured = FIXTURES / "json_post_failure.body.txt"
    if not captured.exists():
        pytest.skip("shared fixtures not present")
    expected = json.loads(captured.read_text())
    with start(_sink()) as sink:
        port = sink.base_url.rsplit(":", 1)[1]
        assert _send(AppriseNotifier(), f"json://127.0.0.1:{port}/x", sample_notification()).ok
    ours = sink.requests[0].json()
    assert list(ours) == list(expected)
    assert ours["type"] == expected["type"] == "failure"


def test_form_url_posts_form_fields() -> None:
    with start(_sink()) as sink:
        port = sink.base_url.rsplit(":", 1)[1]
        assert _send(AppriseNotifier(), f"form://127.0.0.1:{port}/form", sample_notification()).ok
    request = sink.requests[0]
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert "node-7.prod%3A9100" in request.text()


def test_sink_answering_500_is_retryable() -> None:
    with start(_sink(500)) as sink:
        port = sink.base_url.rsplit(":", 1)[1]
        result = _send(AppriseNotifier(), f"json://127.0.0.1:{port}/alerts", sample_notification())
    assert result.outcome is DeliveryOutcome.RETRYABLE
    assert "500" in result.detail
    assert len(sink.requests) == 1  # apprise itself does not retry; the outbox does


def test_unreachable_sink_is_retryable() -> None:
    with socket.socket() as s:  # a port nothing listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = _send(AppriseNotifier(timeout=10), f"json://127.0.0.1:{port}/x", sample_notification())
    assert result.outcome is DeliveryOutcome.RETRYABLE


@pytest.mark.parametrize("url", ["nosuchscheme://host/path", "not a url", "mailto://", "slack://"])
def test_unparsable_url_is_permanent_and_secret_free(url: str) -> None:
    result = _send(AppriseNotifier(), url, sample_notification())
    assert result.outcome is DeliveryOutcome.PERMANENT
    assert "cannot parse" in result.detail


def test_detail_never_contains_the_url_secrets() -> None:
    secret_url = "json://user:s3cr3t-token@127.0.0.1:1/hook"
    result = _send(AppriseNotifier(timeout=10), secret_url, sample_notification())
    assert result.outcome is DeliveryOutcome.RETRYABLE
    assert "s3cr3t-token" not in result.detail
    bad = _send(AppriseNotifier(), "nosuch://s3cr3t-token@x", sample_notification())
    assert "s3cr3t-token" not in bad.detail
    assert scheme_of("nosuch://s3cr3t@x") == "nosuch" and scheme_of("junk") == "?"


def test_parsed_urls_are_cached_and_bounded() -> None:
    notifier = AppriseNotifier(cache_size=2)
    first = notifier.load("json://127.0.0.1:1/a")
    assert first is not None and notifier.load("json://127.0.0.1:1/a") is first
    notifier.load("json://127.0.0.1:1/b")
    notifier.load("json://127.0.0.1:1/c")
    assert notifier.load("json://127.0.0.1:1/a") is not first  # evicted, parsed again
    assert notifier.load("nosuch://x") is None
