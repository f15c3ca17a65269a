"""Sentry Integration Platform webhooks to alerts: dispatch on the resource header.

Deliveries are routed by the `Sentry-Hook-Resource` header: `issue`, `event_alert` and
`error` become alerts keyed by Sentry's issue id, so an `issue.resolved` resolves what
`issue.created` or an `event_alert` opened (and the legacy plugin, keyed by the same
group id, agrees with both). `metric_alert` deliveries are keyed by the metric alert
(incident) id. A `comment` on an issue goes onto the timeline of the incident holding
that issue's alert (`sentry_comment`). Every other resource (`installation`, `seer`,
anything new) is recorded with a note and produces no alert.

The parsers live in `sentry_issue` and `sentry_metric`, the legacy plugin in
`sentry_plugin`. Authentication is the HTTP layer's job; `sentry_signature` holds the
pure check it calls. Parsers leave `alertname` unset so grouping correlates by `service`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from integrations.sources.base import ParseResult, PayloadError, SourceOptions
from integrations.sources.payload import brief, decode_json, header, require_object
from integrations.sources.sentry_alert import NAME, short
from integrations.sources.sentry_comment import parse_comment
from integrations.sources.sentry_issue import parse_error, parse_event_alert, parse_issue
from integrations.sources.sentry_metric import parse_metric_alert

RESOURCE_HEADER = "Sentry-Hook-Resource"
COMMENT = "comment"


class SentrySource:
    """Integration Platform webhooks (the `Sentry-Hook-Resource` header is required)."""

    name = NAME

    def parse(self, body: bytes, headers: Mapping[str, str], options: SourceOptions) -> ParseResult:
        resource = (header(headers, RESOURCE_HEADER) or "").strip().lower()
        if not resource:
            raise PayloadError(
                RESOURCE_HEADER, "missing header: not a Sentry Integration Platform webhook", 400
            )
        handler = _HANDLERS.get(resource)
        if handler is None and resource != COMMENT:
            return ParseResult([], note=_inert_note(resource, body))
        payload = require_object(decode_json(body), "body")
        action = payload.get("action")
        if not isinstance(action, str) or not action:
            raise PayloadError("action", f"expected a non-empty string, got {brief(action)}")
        data = payload.get("data")
        if data is None:
            raise PayloadError("data", "missing")
        if handler is None:  # a comment: said by the payload's actor, not about an alert
            return parse_comment(action, require_object(data, "data"), payload.get("actor"))
        return handler(action, require_object(data, "data"), options)


_HANDLERS: Mapping[str, Callable[[str, dict[str, Any], SourceOptions], ParseResult]] = {
    "issue": parse_issue,
    "event_alert": parse_event_alert,
    "error": parse_error,
    "metric_alert": parse_metric_alert,
}


def _inert_note(resource: str, body: bytes) -> str:
    """The note for a resource that never alerts; Sentry may send it an empty body."""
    if not body.strip():
        return f"recorded sentry {short(resource)}"
    payload = decode_json(body)
    action = payload.get("action") if isinstance(payload, dict) else None
    suffix = f".{short(action)}" if isinstance(action, str) and action else ""
    return f"recorded sentry {short(resource)}{suffix}"


sentry = SentrySource()
