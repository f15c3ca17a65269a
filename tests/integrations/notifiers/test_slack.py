"""Slack delivery against a fake Web API on loopback that checks the documented request format."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import pytest

from integrations.notifiers.base import DeliveryOutcome
from integrations.notifiers.slack import SlackNotifier, channel_of
from tests.support.loopback_http import Handler, LoopbackServer, RecordedRequest, Reply, start
from tests.support.notifier_sample import run_with_client, sample_notification

TOKEN = "xoxb-test-token"
T = TypeVar("T")


def check_slack_request(request: RecordedRequest, method: str) -> dict[str, Any]:
    """What the Slack Web API docs require of a JSON call; AssertionError otherwise."""
    assert request.method == "POST"
    assert request.path == f"/api/{method}"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    body = request.json()
    assert isinstance(body["channel"], str) and body["channel"]
    assert isinstance(body["text"], str) and body["text"]
    return body


def fake_slack(answer: Handler | None = None) -> Handler:
    """A Slack Web API that validates chat.postMessage / chat.update like Slack would."""

    def handle(request: RecordedRequest) -> Reply:
        method = request.path.removeprefix("/api/")
        assert method in ("chat.postMessage", "chat.update"), request.path
        body = check_slack_request(request, method)
        if answer is not None:
            return answer(request)
        if method == "chat.update":
            assert body["ts"] == "1700000000.000100" and body["channel"] == "C1"
        if "thread_ts" not in body:
            assert isinstance(body["blocks"], list) and body["blocks"]
        channel = "C1" if body["channel"] in ("#ops", "C1") else None
        if channel is None:
            return Reply.json({"ok": False, "error": "channel_not_found"})
        return Reply.json({"ok": True, "channel": channel, "ts": "1700000000.000100"})

    return handle


def run(server: LoopbackServer, call: Callable[[SlackNotifier], Awaitable[T]]) -> T:
    return run_with_client(lambda c: SlackNotifier(TOKEN, c, server.base_url + "/api/"), call)


def test_post_message_follows_the_documented_format() -> None:
    with start(fake_slack()) as server:
        result = run(server, lambda s: s.send("slack:#ops", sample_notification()))
    assert result.outcome is DeliveryOutcome.OK, result.detail
    assert result.message_ref == "C1:1700000000.000100"
    body = server.requests[0].json()
    assert body["channel"] == "#ops"
    assert "node-7.prod:9100 API 5xx above 5% for 10m" in body["text"]
    [actions] = [b for b in body["blocks"] if b["type"] == "actions"]
    assert actions["block_id"] == "incident:42"
    assert [e["action_id"] for e in actions["elements"]] == [
        "incident_ack",
        "incident_resolve",
        "incident_silence_1h",
        "incident_run_playbook",
    ]
    assert {e["value"] for e in actions["elements"]} == {"42"}


def test_channel_id_target_and_trailing_slash_optional() -> None:
    with start(fake_slack()) as server:
        result = run_with_client(
            lambda c: SlackNotifier(TOKEN, c, server.base_url + "/api"),
            lambda s: s.send("slack:C1", sample_notification()),
        )
    assert result.ok and server.requests[0].json()["channel"] == "C1"


def test_update_edits_in_place_and_drops_the_ack_button() -> None:
    acked = sample_notification(status="acknowledged", status_by="bob")
    with start(fake_slack()) as server:
        result = run(server, lambda s: s.update("C1:1700000000.000100", acked))
    assert result.ok, result.detail
    [request] = server.requests
    assert request.path == "/api/chat.update"
    body = request.json()
    action_ids = [
        e["action_id"] for b in body["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert "incident_ack" not in action_ids and "incident_resolve" in action_ids
    assert "acknowledged by bob" in body["text"]


def test_thread_reply() -> None:
    with start(fake_slack()) as server:
        result = run(
            server, lambda s: s.post_thread_reply("C1", "1700000000.000100", "fetched <logs>")
        )
        again = run(server, lambda s: s.reply("C1:1700000000.000100", "second"))
    assert result.ok and again.ok
    body = server.requests[0].json()
    assert body == {
        "channel": "C1",
        "thread_ts": "1700000000.000100",
        "text": "fetched &lt;logs&gt;",
    }
    assert server.requests[1].json()["thread_ts"] == "1700000000.000100"


def test_documented_error_is_permanent() -> None:
    with start(fake_slack()) as server:
        result = run(server, lambda s: s.send("slack:#nope", sample_notification()))
    assert result.outcome is DeliveryOutcome.PERMANENT
    assert "channel_not_found" in result.detail and TOKEN not in result.detail


@pytest.mark.parametrize(
    ("reply", "outcome", "retry_after"),
    [
        (
            Reply.json({"ok": False, "error": "ratelimited"}, 429, {"Retry-After": "30"}),
            "retryable",
            30,
        ),
        (Reply.json({"ok": False, "error": "internal_error"}), "retryable", None),
        (Reply.json({"ok": False, "error": "service_unavailable"}), "retryable", None),
        (Reply.text("upstream broke", 503), "retryable", None),
        (Reply.text("<html>ok</html>", 200), "retryable", None),
        (Reply.json({"ok": False, "error": "invalid_auth"}), "permanent", None),
        (Reply.json({"ok": False, "error": "not_in_channel"}), "permanent", None),
        (Reply.json({"ok": False, "error": "is_archived"}), "permanent", None),
        (Reply.json({"ok": False, "error": "msg_too_long"}), "permanent", None),
        (Reply.text("not found", 404), "permanent", None),
    ],
)
def test_answers_map_to_outcomes(reply: Reply, outcome: str, retry_after: int | None) -> None:
    with start(fake_slack(lambda _: reply)) as server:
        result = run(server, lambda s: s.send("slack:#ops", sample_notification()))
    assert result.outcome == outcome, result.detail
    expected = timedelta(seconds=retry_after) if retry_after is not None else None
    assert result.retry_after == expected


def test_channel_of() -> None:
    assert channel_of("slack:#ops") == "#ops"
    assert channel_of("slack:C0123") == "C0123"
    with pytest.raises(ValueError, match=r"^target:"):
        channel_of("slack: ")
