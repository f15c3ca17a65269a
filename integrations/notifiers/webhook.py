"""The signed `webhook` contact: a JSON POST of the page, signed like the ci.webhook step.

    POST <contact url>
    Content-Type: application/json
    Idempotency-Key: fb-notification-<outbox row id>   (the same on every retry)
    X-Firebell-Timestamp: <unix seconds>
    X-Firebell-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>

    {"type": "page", "incident_id": 42, "title": .., "severity": "critical",
     "status": "triggered", "service": .., "url": .., "summaries": [..], "step": ..,
     "recipient": .., "ack_hint": .., ...}
    or, for a plain message (a silence reminder, a pager-storm bundle):
    {"type": "message", "title": .., "text": ..}

The outbox row's target is "webhook:<url>"; the secret is looked up by URL from the
config at send time, so it is never stored in a row or shown. Delivered on the shared
pool; any 2xx is success, 408/429/5xx and connection errors are retried (Retry-After
honoured), other answers fail at once. Redirects are not followed.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from integrations.ci.webhook import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    body_bytes,
    signature,
)
from integrations.notifiers.base import (
    DeliveryResult,
    Notification,
    NotifierKind,
    NotifierSettings,
    TextMessage,
)
from integrations.notifiers.json_webhook import failure_for, result_for
from routing.basics.redact import redact_url
from routing.oncall.people import WEBHOOK_PREFIX

USER_AGENT = "firebell"
TIMEOUT = httpx.Timeout(10.0, connect=4.0)


def page_payload(n: Notification) -> dict[str, Any]:
    """The page as JSON: the incident's facts and how to acknowledge it."""
    return {
        "type": "page",
        "incident_id": n.incident_id,
        "title": n.incident_title,
        "severity": n.severity.value,
        "status": n.status,
        "status_by": n.status_by,
        "service": n.service,
        "url": n.incident_url,
        "summaries": list(n.summaries),
        "alert_count": n.alert_count,
        "occurrences": n.occurrences,
        "first_seen": n.first_seen_utc.isoformat(),
        "last_seen": n.last_seen_utc.isoformat(),
        "labels": dict(n.labels),
        "runbook_url": n.runbook_url,
        "source_urls": list(n.source_urls),
        "policy": n.policy,
        "step": n.step,
        "recipient": n.recipient,
        "ack_hint": n.ack_hint,
    }


def text_payload(message: TextMessage) -> dict[str, Any]:
    return {"type": "message", "title": message.title, "text": message.text}


def signed_headers(
    secret: str, body: bytes, delivery_key: str, now: datetime
) -> list[tuple[str, str]]:
    """The headers of one signed send at `now` (the signature covers timestamp and body)."""
    timestamp = str(int(now.timestamp()))
    return [
        ("Content-Type", "application/json"),
        ("User-Agent", USER_AGENT),
        (IDEMPOTENCY_HEADER, f"fb-notification-{delivery_key}"),
        (TIMESTAMP_HEADER, timestamp),
        (SIGNATURE_HEADER, signature(secret, timestamp, body)),
    ]


def url_of(target: str) -> str:
    """ "webhook:https://hooks.example/page" -> "https://hooks.example/page"."""
    if not target.startswith(WEBHOOK_PREFIX):
        raise ValueError(f"target: expected 'webhook:<url>', got {redact_url(target)!r}")
    return target[len(WEBHOOK_PREFIX) :]


class WebhookNotifier:
    kind = "webhook"

    def __init__(self, client: httpx.AsyncClient, secrets: Mapping[str, str]) -> None:
        self._client = client
        self._secrets = secrets

    async def send(self, target: str, notification: Notification) -> DeliveryResult:
        return await self._post(target, page_payload(notification), notification.delivery_key)

    async def send_text(self, target: str, message: TextMessage) -> DeliveryResult:
        return await self._post(target, text_payload(message), message.delivery_key)

    async def _post(
        self, target: str, payload: dict[str, Any], delivery_key: str | None
    ) -> DeliveryResult:
        try:
            url = url_of(target)
        except ValueError as exc:
            return DeliveryResult.permanent(str(exc))
        secret = self._secrets.get(url)
        what = f"webhook {redact_url(url)}"
        if secret is None:
            return DeliveryResult.permanent(
                f"{what}: no contact with this URL and a secret in the config any more"
            )
        body = body_bytes(payload)
        # A send outside the outbox is never retried: any unique key will do.
        key = delivery_key or uuid.uuid4().hex
        headers = signed_headers(secret, body, key, datetime.now(UTC))
        try:
            response = await self._client.post(url, content=body, headers=headers, timeout=TIMEOUT)
        except httpx.HTTPError as exc:
            return failure_for(exc, what)
        return result_for(response, what)


def _build(settings: NotifierSettings) -> WebhookNotifier:
    return WebhookNotifier(settings.http_client, settings.webhook_secrets)


def _check(target: str) -> None:
    url = url_of(target)
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"target: not an http(s) URL: {redact_url(url)!r}")


KIND = NotifierKind(build=_build, check=_check)
