"""What the Slack and Discord notifiers share: one JSON call to a chat API, failures classified."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from integrations.notifiers.base import DeliveryResult


async def call_json_api(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    body: Mapping[str, Any],
    headers: Mapping[str, str],
    what: str,
    classify: Callable[[httpx.Response], DeliveryResult],
) -> DeliveryResult:
    """Send `body` as JSON and let `classify` judge the answer.

    A URL httpx cannot use will not work on retry (permanent); a network failure may
    (retryable). `what` starts every detail and never holds the token.
    """
    try:
        response = await http.request(
            method, url, content=json.dumps(body).encode(), headers=dict(headers)
        )
    except httpx.InvalidURL as exc:
        return DeliveryResult.permanent(f"{what}: bad API URL: {exc}")
    except httpx.TransportError as exc:
        return DeliveryResult.retryable(f"{what}: {type(exc).__name__}: {exc}")
    return classify(response)


def json_object(response: httpx.Response) -> dict[str, Any] | None:
    """The answer's JSON object; None when the body is something else (a proxy's HTML page)."""
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
