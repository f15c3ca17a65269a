"""Sentry's legacy WebHooks plugin: one issue per body, keyed by its group `id`.

Keyed like the Integration Platform's issue resources, so the two formats dedup into
one another. Authenticated by the URL token in the HTTP layer.
"""

from __future__ import annotations

from collections.abc import Mapping

from integrations.sources.base import ParseResult, PayloadError, SourceOptions
from integrations.sources.payload import decode_json, optional_object, optional_str, require_object
from integrations.sources.sentry_alert import (
    LEGACY_NAME,
    Project,
    first_time,
    issue_alert,
    required_id,
)
from routing.intake.alert import AlertStatus


class SentryLegacySource:
    """The legacy WebHooks plugin: one issue per body, keyed by its group `id`."""

    name = LEGACY_NAME

    def parse(self, body: bytes, headers: Mapping[str, str], options: SourceOptions) -> ParseResult:
        payload = require_object(decode_json(body), "body")
        issue_id = required_id(payload, "id", "id")
        event = optional_object(payload, "event", "event")
        slug = optional_str(payload, "project_slug", "project_slug")
        slug_field = "project_slug" if slug else "project"
        slug = slug or optional_str(payload, "project", "project")
        level = optional_str(payload, "level", "level") or optional_str(
            event, "level", "event.level"
        )
        culprit = optional_str(payload, "culprit", "culprit")
        title = (
            optional_str(payload, "message", "message")
            or optional_str(event, "title", "event.title")
            or culprit
            or f"Sentry issue {issue_id}"
        )
        annotations = {"issue_id": issue_id}
        if culprit:
            annotations["culprit"] = culprit
        rules = payload.get("triggering_rules")
        if rules is not None:
            if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
                raise PayloadError("triggering_rules", "expected an array of strings")
            if rules:
                annotations["triggered_rule"] = ", ".join(rules)
        started = first_time(event, "event", ("datetime", "timestamp", "received"))
        alert = issue_alert(
            source=LEGACY_NAME,
            issue_id=issue_id,
            status=AlertStatus.FIRING,
            level=level,
            project=Project(slug, None, slug_field),
            title=title,
            description=culprit or "",
            annotations=annotations,
            source_url=optional_str(payload, "url", "url"),
            starts_at=started,
            options=options,
        )
        return ParseResult([alert])


sentry_legacy = SentryLegacySource()
