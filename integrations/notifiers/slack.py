"""Delivery to Slack channels through the Web API (chat.postMessage / chat.update) over httpx."""

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
from integrations.notifiers.message import clip
from integrations.notifiers.slack_blocks import SLACK_FALLBACK_LIMIT, slack_escape, slack_message

DEFAULT_API_URL = "https://slack.com/api/"

# Slack's documented errors that describe its own trouble, not the request's.
RETRYABLE_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


def channel_of(target: str) -> str:
    """ "slack:#ops" -> "#ops", "slack:C123" -> "C123"; ValueError naming the field."""
    channel = target.removeprefix("slack:").strip()
    if not channel or channel == "#" or any(c.isspace() for c in channel):
        raise ValueError(f"target: expected slack:#channel or slack:<channel id>, got {target!r}")
    return channel


class SlackNotifier:
    """Posts Block Kit incident messages; edits them in place and replies in their thread."""

    kind = "slack"

    def __init__(
        self, token: str, http_client: httpx.AsyncClient, api_url: str = DEFAULT_API_URL
    ) -> None:
        if not token:
            raise ValueError("slack.bot_token: required to post to Slack")
        self._token = token
        self._http = http_client
        self._api_url = api_url.rstrip("/") + "/"

    async def send(self, target: str, notification: Notification) -> DeliveryResult:
        try:
            channel = channel_of(target)
        except ValueError as exc:
            return DeliveryResult.permanent(str(exc))
        # Slack accepts "#name" for posting and answers with the channel id, which
        # chat.update requires; the message_ref therefore always carries the id.
        return await self.call(
            "chat.postMessage", {"channel": channel, **slack_message(notification)}
        )

    async def send_text(self, target: str, message: TextMessage) -> DeliveryResult:
        """A plain message (title line, then the text), shown literally: no markup."""
        try:
            channel = channel_of(target)
        except ValueError as exc:
            return DeliveryResult.permanent(str(exc))
        text = clip(slack_escape(f"{message.title}\n{message.text}"), SLACK_FALLBACK_LIMIT)
        return await self.call(
            "chat.postMessage", {"channel": channel, "text": text, "mrkdwn": False}
        )

    async def update(self, message_ref: str, notification: Notification) -> DeliveryResult:
        try:
            channel, ts = split_message_ref(message_ref)
        except ValueError as exc:
            return DeliveryResult.permanent(str(exc))
        return await self.call(
            "chat.update", {"channel": channel, "ts": ts, **slack_message(notification)}
        )

    async def post_thread_reply(self, channel: str, thread_ts: str, text: str) -> DeliveryResult:
        """A timeline entry under the incident message (plain text, escaped)."""
        body = {
            "channel": channel,
            "thread_ts": thread_ts,
            "text": clip(slack_escape(text), SLACK_FALLBACK_LIMIT),
        }
        return await self.call("chat.postMessage", body)

    async def reply(self, message_ref: str, text: str) -> DeliveryResult:
        try:
            channel, ts = split_message_ref(message_ref)
        except ValueError as exc:
            return DeliveryResult.permanent(str(exc))
        return await self.post_thread_reply(channel, ts, text)

    async def edit_text(self, message_ref: str, text: str) -> DeliveryResult:
        """Replace a plain-text thread message (a playbook's progress) in place."""
        try:
            channel, ts = split_message_ref(message_ref)
        except ValueError as exc:
            return DeliveryResult.permanent(str(exc))
        body = {
            "channel": channel,
            "ts": ts,
            "text": clip(slack_escape(text), SLACK_FALLBACK_LIMIT),
        }
        return await self.call("chat.update", body)

    async def call(self, method: str, body: dict[str, Any]) -> DeliveryResult:
        """POST one Web API method and classify the answer."""
        headers = {
            "Authorization": f"Bearer {self._token}",
            # Without the charset Slack answers with a missing_charset warning.
            "Content-Type": "application/json; charset=utf-8",
        }
        return await call_json_api(
            self._http,
            "POST",
            self._api_url + method,
            body,
            headers,
            f"slack {method}",
            lambda response: classify(method, response),
        )


def classify(method: str, response: httpx.Response) -> DeliveryResult:
    """Slack's answer to a delivery: HTTP status first, then the documented {"ok", "error"}."""
    status = response.status_code
    if status == 429:
        wait = parse_retry_after(response.headers.get("Retry-After"))
        return DeliveryResult.retryable(f"slack {method}: HTTP 429 rate limited", wait)
    if status >= 500:
        return DeliveryResult.retryable(f"slack {method}: HTTP {status}")
    data = json_object(response)
    if data is None:
        if status >= 400:
            return DeliveryResult.permanent(f"slack {method}: HTTP {status}, not a Slack answer")
        # Slack may have posted; a possible duplicate beats a missed page.
        return DeliveryResult.retryable(f"slack {method}: HTTP {status} with an unreadable body")
    if data.get("ok") is True:
        channel, ts = data.get("channel"), data.get("ts")
        ref = f"{channel}:{ts}" if isinstance(channel, str) and isinstance(ts, str) else None
        warning = f" (warning: {data['warning']})" if data.get("warning") else ""
        return DeliveryResult.delivered(f"slack {method}: ok{warning}", ref)
    error = str(data.get("error") or f"HTTP {status}")
    if error in RETRYABLE_ERRORS:
        return DeliveryResult.retryable(
            f"slack {method}: {error}", parse_retry_after(response.headers.get("Retry-After"))
        )
    # channel_not_found, not_in_channel, invalid_auth, token_revoked, is_archived,
    # msg_too_long, invalid_blocks ...: the same request will fail the same way.
    return DeliveryResult.permanent(f"slack {method}: {error}")


def _build(settings: NotifierSettings) -> SlackNotifier | None:
    if not settings.slack_token:
        return None
    api_url = settings.slack_api_url or DEFAULT_API_URL
    return SlackNotifier(settings.slack_token, settings.http_client, api_url)


def _check(target: str) -> None:
    channel_of(target)


KIND = NotifierKind(build=_build, check=_check)
