"""Notifier registry: the kind a target names, what is built, unconfigured kinds fail visibly."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from integrations.notifiers import (
    NOTIFIERS,
    ChatNotifier,
    DeliveryOutcome,
    Notifier,
    UnconfiguredNotifier,
    build_notifiers,
    check_target,
    kind_of,
    notifier_for,
)
from integrations.notifiers.apprise import AppriseNotifier
from integrations.notifiers.discord_rest import DiscordNotifier
from integrations.notifiers.json_webhook import JsonNotifier
from integrations.notifiers.slack import SlackNotifier
from integrations.notifiers.webhook import WebhookNotifier
from tests.support.notifier_sample import sample_notification


@pytest.mark.parametrize(
    ("target", "kind"),
    [
        ("slack:#ops", "slack"),
        ("slack:C0123", "slack"),
        ("discord:1234567890", "discord"),
        ("slack://TokenA/TokenB/TokenC/#ops", "apprise"),  # apprise's own Slack webhook scheme
        ("discord://webhook_id/webhook_token", "apprise"),
        ("json://127.0.0.1:8080/hook", "json"),  # native, on the shared pool (issue 14)
        ("jsons://hooks.example/x", "json"),
        ("webhook:https://hooks.example/page", "webhook"),  # a signed webhook contact
        ("form://127.0.0.1:8080/hook", "apprise"),
        ("mailto://user:pass@example.org", "apprise"),
        ("ntfy://firebell-alerts", "apprise"),
        ("apprise:whatever", "apprise"),
        ("plain text", "apprise"),
    ],
)
def test_kind_of(target: str, kind: str) -> None:
    assert kind_of(target) == kind


def test_build_only_configured_kinds_and_pick_by_target() -> None:
    async def go() -> None:
        async with httpx.AsyncClient() as client:
            everything = build_notifiers("xoxb-1", None, "bot-1", "http://127.0.0.1:9/api", client)
            assert set(everything) == set(NOTIFIERS)
            assert isinstance(notifier_for("slack:#ops", everything), SlackNotifier)
            assert isinstance(notifier_for("discord:1", everything), DiscordNotifier)
            assert isinstance(notifier_for("ntfy://topic", everything), AppriseNotifier)
            assert isinstance(notifier_for("json://h/x", everything), JsonNotifier)
            assert isinstance(notifier_for("webhook:https://h/x", everything), WebhookNotifier)
            for notifier in everything.values():
                assert isinstance(notifier, Notifier)
            assert isinstance(everything["slack"], ChatNotifier)
            assert isinstance(everything["discord"], ChatNotifier)
            assert not isinstance(everything["apprise"], ChatNotifier)

            bare = build_notifiers(None, None, "", None, client)
            # json:// and signed webhooks need no token: always there.
            assert set(bare) == {"apprise", "json", "webhook"}
            missing = notifier_for("slack:#ops", bare)
            assert isinstance(missing, UnconfiguredNotifier) and missing.kind == "slack"
            result = await missing.send("slack:#ops", sample_notification())
            assert result.outcome is DeliveryOutcome.PERMANENT
            assert "slack is not configured" in result.detail
            assert (await missing.update("C1:1.2", sample_notification())).outcome == "permanent"

    asyncio.run(go())


@pytest.mark.parametrize(
    "target",
    ["slack:#ops", "discord:123", "json://127.0.0.1/x", "ntfy://topic", "mailto://a@b.org"],
)
def test_check_target_accepts(target: str) -> None:
    check_target(target)


@pytest.mark.parametrize(
    "target",
    [
        "slack:",
        "discord:general",
        "nosuch://x",
        "mailto://",
        "json://h/x?format=html",  # apprise would send HTML: refused, not sent as text
        "json://h/x?method=BREW",
        "webhook:ftp://h",
    ],
)
def test_check_target_rejects_naming_the_field(target: str) -> None:
    with pytest.raises(ValueError, match=r"^target:"):
        check_target(target)
