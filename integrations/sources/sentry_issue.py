"""Integration Platform resources keyed by a Sentry issue: `issue`, `event_alert`, `error`.

All three end in `issue_alert`, so an `issue.resolved` resolves what `issue.created`
or an `event_alert` opened.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from integrations.sources.base import ParseResult, PayloadError, SourceOptions
from integrations.sources.payload import (
    optional_id,
    optional_object,
    optional_str,
    parse_time,
    require_object,
)
from integrations.sources.sentry_alert import (
    NAME,
    Project,
    first_time,
    issue_alert,
    required_id,
    short,
)
from routing.intake.alert import Alert, AlertStatus

# Event API URLs carry the project slug: /api/0/projects/<org>/<project>/events/<id>/
_PROJECT_IN_URL = re.compile(r"/projects/[^/]+/([^/]+)/events/")

_ISSUE_STATUS: Mapping[str, AlertStatus] = {
    "created": AlertStatus.FIRING,
    "unresolved": AlertStatus.FIRING,
    "assigned": AlertStatus.FIRING,  # a repeat of the open alert, with the assignee
    "resolved": AlertStatus.RESOLVED,
    "ignored": AlertStatus.RESOLVED,  # muted in Sentry: stop paging for it
    "archived": AlertStatus.RESOLVED,
}


def parse_issue(action: str, data: dict[str, Any], options: SourceOptions) -> ParseResult:
    status = _ISSUE_STATUS.get(action)
    if status is None:
        return ParseResult([], note=f"recorded sentry issue.{short(action)}")
    issue = require_object(data.get("issue"), "data.issue")
    issue_id = required_id(issue, "id", "data.issue.id")
    project = optional_object(issue, "project", "data.issue.project")
    metadata = optional_object(issue, "metadata", "data.issue.metadata")
    culprit = optional_str(issue, "culprit", "data.issue.culprit")
    short_id = optional_str(issue, "shortId", "data.issue.shortId")
    annotations = {"sentry_action": action, "issue_id": issue_id}
    if short_id:
        annotations["short_id"] = short_id
    if culprit:
        annotations["culprit"] = culprit
    assignee = _assignee(issue.get("assignedTo"))
    if assignee:
        annotations["assignee"] = assignee
    title = (
        optional_str(issue, "title", "data.issue.title")
        or optional_str(metadata, "value", "data.issue.metadata.value")
        or f"Sentry issue {short_id or issue_id}"
    )
    alert = issue_alert(
        source=NAME,
        issue_id=issue_id,
        status=status,
        level=optional_str(issue, "level", "data.issue.level"),
        project=Project(
            optional_str(project, "slug", "data.issue.project.slug"),
            optional_id(project, "id", "data.issue.project.id"),
            "data.issue.project.slug",
        ),
        title=title,
        description=culprit or "",
        annotations=annotations,
        source_url=optional_str(issue, "web_url", "data.issue.web_url")
        or optional_str(issue, "permalink", "data.issue.permalink"),
        starts_at=parse_time(issue.get("firstSeen"), "data.issue.firstSeen"),
        options=options,
    )
    return ParseResult([alert])


def parse_event_alert(action: str, data: dict[str, Any], options: SourceOptions) -> ParseResult:
    if action != "triggered":
        return ParseResult([], note=f"recorded sentry event_alert.{short(action)}")
    event = require_object(data.get("event"), "data.event")
    issue_id = required_id(event, "issue_id", "data.event.issue_id")
    rule = optional_str(data, "triggered_rule", "data.triggered_rule") or optional_str(
        optional_object(data, "issue_alert", "data.issue_alert"), "title", "data.issue_alert.title"
    )
    return ParseResult([_event(event, "data.event", issue_id, action, rule, options)])


def parse_error(action: str, data: dict[str, Any], options: SourceOptions) -> ParseResult:
    if action != "created":
        return ParseResult([], note=f"recorded sentry error.{short(action)}")
    error = require_object(data.get("error"), "data.error")
    # An error outside any issue (rare) is its own identity: its event id.
    identity = optional_id(error, "issue_id", "data.error.issue_id") or optional_id(
        error, "event_id", "data.error.event_id"
    )
    if identity is None:
        raise PayloadError("data.error.issue_id", "missing (and no event_id either)")
    return ParseResult([_event(error, "data.error", identity, action, None, options)])


def _event(
    event: dict[str, Any],
    path: str,
    issue_id: str,
    action: str,
    rule: str | None,
    options: SourceOptions,
) -> Alert:
    """An alert from a Sentry event object (`event_alert` and `error` share the shape)."""
    metadata = optional_object(event, "metadata", f"{path}.metadata")
    culprit = optional_str(event, "culprit", f"{path}.culprit")
    event_id = optional_str(event, "event_id", f"{path}.event_id")
    annotations = {"sentry_action": action, "issue_id": issue_id}
    if event_id:
        annotations["event_id"] = event_id
    if culprit:
        annotations["culprit"] = culprit
    if rule:
        annotations["triggered_rule"] = rule
    title = (
        optional_str(event, "title", f"{path}.title")
        or optional_str(event, "message", f"{path}.message")
        or optional_str(metadata, "value", f"{path}.metadata.value")
        or f"Sentry event {event_id or issue_id}"
    )
    environment = optional_str(event, "environment", f"{path}.environment")
    return issue_alert(
        source=NAME,
        issue_id=issue_id,
        status=AlertStatus.FIRING,
        level=optional_str(event, "level", f"{path}.level"),
        project=_event_project(event, path),
        title=title,
        description=culprit or "",
        annotations=annotations,
        source_url=optional_str(event, "web_url", f"{path}.web_url")
        or optional_str(event, "issue_url", f"{path}.issue_url"),
        starts_at=first_time(event, path, ("datetime", "timestamp")),
        options=options,
        extra_labels={"environment": environment} if environment else None,
    )


def _event_project(event: dict[str, Any], path: str) -> Project:
    """Events name their project inconsistently: a slug key, a slug, an id, or a URL."""
    slug = optional_str(event, "project_slug", f"{path}.project_slug")
    slug_field = f"{path}.project_slug"
    project_id = optional_id(event, "project", f"{path}.project")
    if slug is None and project_id is not None and not project_id.isdigit():
        slug, project_id = project_id, None  # `project` held the slug itself
        slug_field = f"{path}.project"
    if slug is None:
        url = optional_str(event, "url", f"{path}.url")
        match = _PROJECT_IN_URL.search(url) if url else None
        if match:
            slug, slug_field = match.group(1), f"{path}.url"
    return Project(slug, project_id, slug_field)


def _assignee(value: Any) -> str | None:
    if isinstance(value, str):
        return value or None
    if isinstance(value, dict):
        for key in ("name", "email", "id"):
            item = value.get(key)
            if isinstance(item, str | int) and not isinstance(item, bool) and item != "":
                return str(item)
    return None
