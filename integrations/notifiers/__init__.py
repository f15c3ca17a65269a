"""Notifiers: one module per delivery kind, registered in NOTIFIERS; a target picks its kind."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import httpx

from integrations.notifiers import apprise, discord_rest, json_webhook, slack, webhook
from integrations.notifiers.base import (
    ChatNotifier,
    DeliveryOutcome,
    DeliveryResult,
    Notification,
    Notifier,
    NotifierKind,
    NotifierSettings,
    TextMessage,
    TextNotifier,
)
from integrations.notifiers.http_pool import HttpPool

# The one registry of notifier kinds: adding a kind is one module and one line here.
# A target "<kind>:<address>" goes to that kind; json:// and jsons:// go natively, on
# the shared pool; anything else is an apprise URL.
NOTIFIERS: dict[str, NotifierKind] = {
    "slack": slack.KIND,
    "discord": discord_rest.KIND,
    "webhook": webhook.KIND,
    "json": json_webhook.KIND,
    "apprise": apprise.KIND,
}
FALLBACK_KIND = "apprise"


def kind_of(target: str) -> str:
    """ "slack:#ops" -> slack, "discord:123" -> discord, "slack://T/B/X" -> apprise,
    "json://h/x" -> json, "webhook:https://h/x" -> webhook."""
    if json_webhook.is_json_url(target):
        return "json"
    prefix, sep, rest = target.partition(":")
    # "slack://..." and "discord://..." are apprise's own webhook schemes, not ours.
    if sep and not rest.startswith("//") and prefix in NOTIFIERS:
        return prefix
    return FALLBACK_KIND


def check_target(target: str) -> None:
    """ValueError naming what is wrong with a target (for check-config); None when fine."""
    NOTIFIERS[kind_of(target)].check(target)


def build_notifiers(
    slack_token: str | None,
    slack_api_url: str | None,
    discord_token: str | None,
    discord_api_url: str | None,
    http_client: httpx.AsyncClient,
    *,
    unverified_http_client: Callable[[], httpx.AsyncClient] | None = None,
    webhook_secrets: Mapping[str, str] | None = None,
) -> dict[str, Notifier]:
    """Every configured notifier by kind; a kind without its token is left out."""
    settings = NotifierSettings(
        http_client=http_client,
        unverified_http_client=unverified_http_client,
        webhook_secrets=dict(webhook_secrets or {}),
        slack_token=slack_token,
        slack_api_url=slack_api_url,
        discord_token=discord_token,
        discord_api_url=discord_api_url,
    )
    built = {kind: entry.build(settings) for kind, entry in NOTIFIERS.items()}
    return {kind: notifier for kind, notifier in built.items() if notifier is not None}


class UnconfiguredNotifier:
    """Stands in for a kind whose token is missing, so the row fails visibly, not silently."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def _failure(self) -> DeliveryResult:
        return DeliveryResult.permanent(f"{self.kind} is not configured (no bot token)")

    async def send(self, target: str, notification: Notification) -> DeliveryResult:
        return self._failure()

    async def update(self, message_ref: str, notification: Notification) -> DeliveryResult:
        return self._failure()

    async def reply(self, message_ref: str, text: str) -> DeliveryResult:
        return self._failure()

    async def send_text(self, target: str, message: TextMessage) -> DeliveryResult:
        return self._failure()


def notifier_for(target: str, notifiers: Mapping[str, Notifier]) -> Notifier:
    """The notifier that delivers to `target`, from what build_notifiers returned."""
    kind = kind_of(target)
    return notifiers.get(kind) or UnconfiguredNotifier(kind)


async def send_text(notifier: Notifier, target: str, message: TextMessage) -> DeliveryResult:
    """Post a plain message through `notifier`; one that cannot (a kind without
    `send_text`) fails permanently, so the row is kept and shown rather than retried."""
    if not isinstance(notifier, TextNotifier):
        return DeliveryResult.permanent(f"{notifier.kind} notifier cannot send plain messages")
    return await notifier.send_text(target, message)


__all__ = [
    "FALLBACK_KIND",
    "NOTIFIERS",
    "ChatNotifier",
    "DeliveryOutcome",
    "DeliveryResult",
    "HttpPool",
    "Notification",
    "Notifier",
    "NotifierKind",
    "TextMessage",
    "TextNotifier",
    "UnconfiguredNotifier",
    "build_notifiers",
    "check_target",
    "kind_of",
    "notifier_for",
    "send_text",
]
