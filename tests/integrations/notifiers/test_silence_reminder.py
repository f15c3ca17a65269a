"""Plain TextMessages (silence reminders) through each notifier kind, against loopback fakes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import httpx
import pytest

from integrations.notifiers import (
    DeliveryOutcome,
    DeliveryResult,
    TextMessage,
    TextNotifier,
    UnconfiguredNotifier,
    send_text,
)
from integrations.notifiers.apprise import AppriseNotifier
from integrations.notifiers.discord_rest import DiscordNotifier
from integrations.notifiers.slack import SlackNotifier
from tests.integrations.notifiers.test_discord import CHANNEL, TOKEN, check_discord_request
from tests.support.loopback_http import RecordedRequest, Reply, start

T = TypeVar("T")
MESSAGE = TextMessage(
    title='Silence ending in 9 min: alertname=~"High.*"',
    text="by <!channel> @everyone *bold* _it_\n/incident unsilence 3f2a",
)


def run(coro: Awaitable[T]) -> T:
    async def go() -> T:
        return await coro

    return asyncio.run(go())


async def with_client(make: Any, *args: Any) -> DeliveryResult:
    async with httpx.AsyncClient() as client:
        result: DeliveryResult = await make(client, *args)
        return result


def test_slack_posts_literal_escaped_text() -> None:
    def handle(request: RecordedRequest) -> Reply:
        assert request.headers["authorization"] == "Bearer xoxb-1"
        return Reply.json({"ok": True, "channel": "C0BACK", "ts": "1700000000.000001"})

    with start(handle) as api:

        async def send(client: httpx.AsyncClient) -> DeliveryResult:
            slack = SlackNotifier("xoxb-1", client, api.base_url + "/api/")
            assert isinstance(slack, TextNotifier)
            return await slack.send_text("slack:#backend", MESSAGE)

        result = run(with_client(send))
        assert (result.ok, result.message_ref) == (True, "C0BACK:1700000000.000001")
        (request,) = api.requests
        assert request.path == "/api/chat.postMessage"
        body = request.json()
        assert body["channel"] == "#backend" and body["mrkdwn"] is False
        assert "blocks" not in body
        assert body["text"].startswith('Silence ending in 9 min: alertname=~"High.*"\nby ')
        assert "&lt;!channel&gt;" in body["text"] and "<!channel>" not in body["text"]


def test_slack_bad_target_is_permanent() -> None:
    async def send(client: httpx.AsyncClient) -> DeliveryResult:
        return await SlackNotifier("xoxb-1", client, "http://127.0.0.1:9/").send_text(
            "slack:#", MESSAGE
        )

    assert run(with_client(send)).outcome is DeliveryOutcome.PERMANENT


def test_discord_posts_escaped_content_without_mentions() -> None:
    def handle(request: RecordedRequest) -> Reply:
        channel, message_id, _ = check_discord_request(request)
        assert (channel, message_id) == (CHANNEL, None)
        return Reply.json({"id": "42", "channel_id": channel})

    with start(handle) as api:

        async def send(client: httpx.AsyncClient) -> DeliveryResult:
            discord = DiscordNotifier(TOKEN, client, api.base_url + "/api/v10")
            return await discord.send_text(f"discord:{CHANNEL}", MESSAGE)

        result = run(with_client(send))
        assert (result.ok, result.message_ref) == (True, f"{CHANNEL}:42")
        content = api.requests[0].json()["content"]
        assert content.startswith('**Silence ending in 9 min: alertname=\\~"High.\\*"**\n')
        assert "\\*bold\\*" in content and "\\_it\\_" in content
        assert "embeds" not in api.requests[0].json()


def test_apprise_sends_a_warning_with_title_and_text() -> None:
    with start(lambda _: Reply.json({})) as sink:
        host = sink.base_url.removeprefix("http://")
        result = run(AppriseNotifier().send_text(f"json://{host}/reminders", MESSAGE))
        assert result.ok, result.detail
        body = sink.requests[0].json()
        assert (body["title"], body["message"], body["type"]) == (
            MESSAGE.title,
            MESSAGE.text,
            "warning",
        )
    failed = run(AppriseNotifier().send_text("notascheme://x", MESSAGE))
    assert failed.outcome is DeliveryOutcome.PERMANENT


def test_unconfigured_and_incapable_notifiers_fail_permanently() -> None:
    result = run(send_text(UnconfiguredNotifier("slack"), "slack:#x", MESSAGE))
    assert (result.outcome, result.detail) == (
        DeliveryOutcome.PERMANENT,
        "slack is not configured (no bot token)",
    )

    class PagesOnly:
        kind = "pager"

        async def send(self, target: str, notification: Any) -> DeliveryResult:
            raise AssertionError("not for text")

    result = run(send_text(PagesOnly(), "x", MESSAGE))
    assert result.detail == "pager notifier cannot send plain messages"


@pytest.mark.parametrize(("title", "text"), [("", "x"), (" ", "x"), ("t", ""), ("t", "\n")])
def test_a_text_message_needs_a_title_and_text(title: str, text: str) -> None:
    with pytest.raises(ValueError, match=r"^(title|text):"):
        TextMessage(title=title, text=text)
