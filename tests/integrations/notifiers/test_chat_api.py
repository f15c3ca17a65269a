"""What Slack and Discord delivery share: bad addresses fail before any request is made,
network trouble is retryable, and a notifier without its bot token cannot be built."""

from __future__ import annotations

import socket
from collections.abc import Callable

import httpx
import pytest

from integrations.notifiers.base import ChatNotifier, DeliveryOutcome
from integrations.notifiers.discord_rest import DiscordNotifier
from integrations.notifiers.slack import SlackNotifier
from tests.support.loopback_http import Reply, start
from tests.support.notifier_sample import run_with_client, sample_notification

TOKEN = "chat-bot-token"
MakeNotifier = Callable[[str, httpx.AsyncClient, str], ChatNotifier]
KINDS: dict[str, MakeNotifier] = {
    "slack": lambda token, client, url: SlackNotifier(token, client, url + "/api/"),
    "discord": lambda token, client, url: DiscordNotifier(token, client, url + "/api/v10"),
}
# (kind, a target that kind rejects, a message_ref that kind rejects)
BAD_ADDRESSES = [
    ("slack", "slack:", "no-colon"),
    ("slack", "slack:#", "no-colon"),
    ("slack", "slack:#two words", "no-colon"),
    ("discord", "discord:", "C1:1700000000.000100"),
    ("discord", "discord:#general", "C1:1700000000.000100"),
    ("discord", "discord:12ab", "C1:1700000000.000100"),
]
GOOD_TARGETS = {"slack": "slack:#ops", "discord": "discord:1234567890123456789"}


@pytest.mark.parametrize(("kind", "target", "message_ref"), BAD_ADDRESSES)
def test_bad_address_fails_before_any_request(kind: str, target: str, message_ref: str) -> None:
    with start(lambda _: Reply.json({}, 500)) as server:

        def make(client: httpx.AsyncClient) -> ChatNotifier:
            return KINDS[kind](TOKEN, client, server.base_url)

        result = run_with_client(make, lambda n: n.send(target, sample_notification()))
        bad_ref = run_with_client(make, lambda n: n.update(message_ref, sample_notification()))
    assert result.outcome is DeliveryOutcome.PERMANENT and "target:" in result.detail
    assert bad_ref.outcome is DeliveryOutcome.PERMANENT and "message_ref:" in bad_ref.detail
    assert server.requests == []


@pytest.mark.parametrize("kind", KINDS)
def test_unreachable_api_is_retryable(kind: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = run_with_client(
        lambda client: KINDS[kind](TOKEN, client, f"http://127.0.0.1:{port}"),
        lambda n: n.send(GOOD_TARGETS[kind], sample_notification()),
    )
    assert result.outcome is DeliveryOutcome.RETRYABLE
    assert TOKEN not in result.detail


@pytest.mark.parametrize("kind", KINDS)
def test_token_is_required(kind: str) -> None:
    async def build(client: httpx.AsyncClient) -> ChatNotifier:
        return KINDS[kind]("", client, "http://127.0.0.1:9")

    with pytest.raises(ValueError, match=f"{kind}.bot_token"):
        run_with_client(lambda client: client, build)
