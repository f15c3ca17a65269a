"""Discord delivery against a fake REST API on loopback that checks the documented format."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import pytest

from integrations.notifiers.base import DeliveryOutcome
from integrations.notifiers.discord_embed import RESOLVED_COLOR
from integrations.notifiers.discord_rest import DiscordNotifier, channel_of
from tests.support.loopback_http import Handler, LoopbackServer, RecordedRequest, Reply, start
from tests.support.notifier_sample import run_with_client, sample_notification

TOKEN = "discord-bot-token"
CHANNEL = "1234567890123456789"
MESSAGE = "1100000000000000042"
T = TypeVar("T")
_MESSAGES = re.compile(r"^/api/v10/channels/(\d+)/messages(?:/(\d+))?$")


def check_discord_request(request: RecordedRequest) -> tuple[str, str | None, dict[str, Any]]:
    """What the Discord API docs require of create/edit message; AssertionError otherwise."""
    assert request.headers["authorization"] == f"Bot {TOKEN}"
    assert request.headers["content-type"] == "application/json"
    match = _MESSAGES.match(request.path)
    assert match, request.path
    channel, message_id = match.group(1), match.group(2)
    assert (request.method == "POST") == (message_id is None)
    assert request.method in ("POST", "PATCH")
    body = request.json()
    assert body["allowed_mentions"] == {"parse": []}
    for embed in body.get("embeds", []):
        assert isinstance(embed["color"], int) and 0 <= embed["color"] <= 0xFFFFFF
    for row in body.get("components", []):
        assert row["type"] == 1 and 1 <= len(row["components"]) <= 5
        for button in row["components"]:
            assert button["type"] == 2
            assert ("url" in button) == (button["style"] == 5) != ("custom_id" in button)
    return channel, message_id, body


def fake_discord(status: int = 200, error: dict[str, Any] | None = None) -> Handler:
    def handle(request: RecordedRequest) -> Reply:
        channel, message_id, _ = check_discord_request(request)
        if status != 200:
            headers = {"Retry-After": "3"} if status == 429 else {}
            return Reply.json(error or {}, status, headers)
        if channel != CHANNEL:
            return Reply.json({"message": "Unknown Channel", "code": 10003}, 404)
        return Reply.json({"id": message_id or MESSAGE, "channel_id": channel, "type": 0})

    return handle


def run(server: LoopbackServer, call: Callable[[DiscordNotifier], Awaitable[T]]) -> T:
    return run_with_client(lambda c: DiscordNotifier(TOKEN, c, server.base_url + "/api/v10"), call)


def test_create_message_with_embed_and_buttons() -> None:
    with start(fake_discord()) as server:
        result = run(server, lambda d: d.send(f"discord:{CHANNEL}", sample_notification()))
    assert result.outcome is DeliveryOutcome.OK, result.detail
    assert result.message_ref == f"{CHANNEL}:{MESSAGE}"
    [request] = server.requests
    assert request.method == "POST" and request.path == f"/api/v10/channels/{CHANNEL}/messages"
    body = request.json()
    [embed] = body["embeds"]
    assert embed["color"] == 0xE01E5A
    assert "node-7.prod:9100 API 5xx above 5% for 10m" in embed["description"]
    custom_ids = [b.get("custom_id") for b in body["components"][0]["components"]]
    assert custom_ids[:4] == [
        "incident:ack:42",
        "incident:resolve:42",
        "incident:silence1h:42",
        "incident:run:42",
    ]


def test_update_patches_the_message() -> None:
    resolved = sample_notification(status="resolved", status_by="bob")
    with start(fake_discord()) as server:
        result = run(server, lambda d: d.update(f"{CHANNEL}:{MESSAGE}", resolved))
    assert result.ok, result.detail
    [request] = server.requests
    assert request.method == "PATCH"
    assert request.path == f"/api/v10/channels/{CHANNEL}/messages/{MESSAGE}"
    body = request.json()
    assert body["components"] == []  # the buttons go away once resolved
    assert body["embeds"][0]["color"] == RESOLVED_COLOR


def test_reply_references_the_message() -> None:
    with start(fake_discord()) as server:
        result = run(server, lambda d: d.reply(f"{CHANNEL}:{MESSAGE}", "logs fetched"))
    assert result.ok
    body = server.requests[0].json()
    assert body["message_reference"]["message_id"] == MESSAGE
    assert body["content"] == "logs fetched"


def test_rate_limit_is_retryable_after_the_body_wait() -> None:
    limited = {"message": "You are being rate limited.", "retry_after": 64.57, "global": False}
    with start(fake_discord(429, limited)) as server:
        result = run(server, lambda d: d.send(f"discord:{CHANNEL}", sample_notification()))
    assert result.outcome is DeliveryOutcome.RETRYABLE
    assert result.retry_after == timedelta(seconds=64.57)  # the JSON body wins over the header
    assert "rate limited" in result.detail


def test_rate_limit_without_body_uses_the_header() -> None:
    with start(fake_discord(429)) as server:
        result = run(server, lambda d: d.send(f"discord:{CHANNEL}", sample_notification()))
    assert result.outcome is DeliveryOutcome.RETRYABLE and result.retry_after == timedelta(
        seconds=3
    )


def test_unknown_channel_is_permanent() -> None:
    with start(fake_discord()) as server:
        result = run(server, lambda d: d.send("discord:999", sample_notification()))
    assert result.outcome is DeliveryOutcome.PERMANENT
    assert "404" in result.detail and "Unknown Channel" in result.detail
    assert TOKEN not in result.detail


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (400, "permanent"),
        (401, "permanent"),
        (403, "permanent"),
        (500, "retryable"),
        (502, "retryable"),
    ],
)
def test_status_codes_map_to_outcomes(status: int, outcome: str) -> None:
    with start(fake_discord(status, {"message": "nope", "code": 50001})) as server:
        result = run(server, lambda d: d.send(f"discord:{CHANNEL}", sample_notification()))
    assert result.outcome == outcome


def test_channel_of() -> None:
    assert channel_of(f"discord:{CHANNEL}") == CHANNEL
    with pytest.raises(ValueError, match=r"^target:"):
        channel_of("discord:general")
