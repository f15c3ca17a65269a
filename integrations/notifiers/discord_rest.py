"""Delivery to Discord channels through the REST API (create / edit message) over httpx."""

from __future__ import annotations

from typing import Any

import httpx

from integrations.notifiers.base import (
    DeliveryResult,
    Notification,
    NotifierKind,
    NotifierSettings,
    TextMessage,
    parse_retry_after,
    split_message_ref,
)
from integrations.notifiers.chat_api import call_json_api, json_object
from integrations.notifiers.discord_embed import (
    DISCORD_CONTENT_LIMIT,
    discord_escape,
    discord_message,
)
from integrations.notifiers.message import clip

DEFAULT_API_URL = "https://discord.com/api/v10"


def channel_of(target: str) -> str:
    """ "discord:123456789012345678" -> the channel snowflake; ValueError naming the field."""
    channel = target.removeprefix("discord:").strip()
    if not (channel.isascii() and channel.isdigit() and len(channel) <= 20):
        raise ValueError(f"target: expected discord:<numeric channel id>, got {target!r}")
    return channel


class DiscordNotifier:
    """Posts an embed with incident buttons; edits it in place and replies to it."""

    kind = "discord"

    def __init__(
        self, token: str, http_client: httpx.AsyncClient, api_url: str = DEFAULT_API_URL
    ) -> None:
        if not token:
            raise ValueError("discord.bot_token: required to post to Discord")
        self._token = token
        self._http = http_client
        self._api_url = api_url.rstrip("/")

    async def send(self, target: str, notification: Notification) -> DeliveryResult:
        try:
            channel = channel_of(target)
        except ValueError as exc:
            return DeliveryResult.permanent(str(exc))
        return await self.call(
            "POST", f"/channels/{channel}/messages", discord_message(notification)
        )

    async def send_text(self, target: str, message: TextMessage) -> DeliveryResult:
        """A plain message: the title in bold, the text escaped so it shows literally."""
        try:
            channel = channel_of(target)
        except ValueError as exc:
            return DeliveryResult.permanent(str(exc))
        content = f"**{discord_escape(message.title)}**\n{discord_escape(message.text)}"
        body = {
            "content": clip(content, DISCORD_CONTENT_LIMIT),
            "allowed_mentions": {"parse": []},
        }
        return await self.call("POST", f"/channels/{channel}/messages", body)

    async def update(self, message_ref: str, notification: Notification) -> DeliveryResult:
        try:
            channel, message_id = _checked_ref(message_ref)
        except ValueError as exc:
            return DeliveryResult.permanent(str(exc))
        path = f"/channels/{channel}/messages/{message_id}"
        return await self.call("PATCH", path, discord_message(notification))

    async def reply(self, message_ref: str, text: str) -> DeliveryResult:
        """A timeline entry as a reply to the incident message."""
        try:
            channel, message_id = _checked_ref(message_ref)
        except ValueError as exc:
            return DeliveryResult.permanent(str(exc))
        body = {
            "content": clip(text, DISCORD_CONTENT_LIMIT),
            "message_reference": {"message_id": message_id, "fail_if_not_exists": False},
            "allowed_mentions": {"parse": []},
        }
        return await self.call("POST", f"/channels/{channel}/messages", body)

    async def edit_text(self, message_ref: str, text: str) -> DeliveryResult:
        """Replace a plain-text reply (a playbook's progress) in place."""
        try:
            channel, message_id = _checked_ref(message_ref)
        except ValueError as exc:
            return DeliveryResult.permanent(str(exc))
        body = {"content": clip(text, DISCORD_CONTENT_LIMIT), "allowed_mentions": {"parse": []}}
        return await self.call("PATCH", f"/channels/{channel}/messages/{message_id}", body)

    async def call(self, method: str, path: str, body: dict[str, Any]) -> DeliveryResult:
        what = f"discord {method} {path}"
        headers = {"Authorization": f"Bot {self._token}", "Content-Type": "application/json"}
        return await call_json_api(
            self._http,
            method,
            self._api_url + path,
            body,
            headers,
            what,
            lambda response: classify(what, response),
        )


def _checked_ref(message_ref: str) -> tuple[str, str]:
    channel, message_id = split_message_ref(message_ref)
    if not (channel.isdigit() and message_id.isdigit()):
        raise ValueError(f"message_ref: expected 'channel_id:message_id', got {message_ref!r}")
    return channel, message_id


def classify(what: str, response: httpx.Response) -> DeliveryResult:
    """Discord's answer: 2xx ok, 429/5xx retry (after `retry_after`), other 4xx permanent."""
    status = response.status_code
    data = json_object(response) or {}
    if 200 <= status < 300:
        message_id, channel_id = data.get("id"), data.get("channel_id")
        ref = f"{channel_id}:{message_id}" if channel_id and message_id else None
        return DeliveryResult.delivered(f"{what}: HTTP {status}", ref)
    # Discord's error body: {"message": "Unknown Channel", "code": 10003}.
    reason = f"HTTP {status}"
    if data.get("message"):
        reason += f": {data['message']}"
    if data.get("code"):
        reason += f" (code {data['code']})"
    if status == 429:
        wait = parse_retry_after(data.get("retry_after"))
        if wait is None:
            wait = parse_retry_after(response.headers.get("Retry-After"))
        return DeliveryResult.retryable(f"{what}: {reason}", wait)
    if status >= 500:
        return DeliveryResult.retryable(f"{what}: {reason}")
    # 400 bad embed, 401 bad token, 403 missing permission, 404 unknown channel/message.
    return DeliveryResult.permanent(f"{what}: {reason}")


def _build(settings: NotifierSettings) -> DiscordNotifier | None:
    if not settings.discord_token:
        return None
    api_url = settings.discord_api_url or DEFAULT_API_URL
    return DiscordNotifier(settings.discord_token, settings.http_client, api_url)


def _check(target: str) -> None:
    channel_of(target)


KIND = NotifierKind(build=_build, check=_check)
