"""Sentry webhooks (Integration Platform and the legacy WebHooks plugin) to alerts.

Integration Platform deliveries are routed by the `Sentry-Hook-Resource` header:
`issue`, `event_alert` and `error` become alerts keyed by Sentry's issue id, so an
`issue.resolved` resolves what `issue.created` or an `event_alert` opened (and the
legacy plugin, keyed by the same group id, agrees with both). `metric_alert`
deliveries are keyed by the metric alert (incident) id. Every other resource
(`installation`, `comment`, `seer`, anything new) is recorded with a note and
produces no alert.

Authentication is the HTTP layer's job; `verify_sentry_signature` is the pure check
it calls. Parsers leave `alertname` unset so grouping correlates by `service`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from integrations.sources.base import ParseResult, PayloadError, SourceOptions
from integrations.sources.payload import (
    brief,
    decode_json,
    header,
    map_service,
    optional_id,
    optional_object,
    optional_str,
    parse_time,
    require_object,
)
from routing.intake.alert import UNKNOWN_SERVICE, Alert, AlertStatus, Severity
from routing.intake.fingerprint import fingerprint_of

NAME = "sentry"
LEGACY_NAME = "sentry-legacy"
ISSUE_IDENTITY = "sentry"  # shared by both formats, so they dedup into one another
METRIC_IDENTITY = "sentry-metric"
RESOURCE_HEADER = "Sentry-Hook-Resource"
SIGNATURE_HEADERS = ("Sentry-Hook-Signature", "Sentry-App-Signature")

LEVELS: Mapping[str, Severity] = {
    "fatal": Severity.CRITICAL,
    "error": Severity.ERROR,
    "warning": Severity.WARNING,
    "info": Severity.INFO,
    "debug": Severity.INFO,
}

# Sentry IncidentStatus values a metric alert carries in `status`.
_INCIDENT_CRITICAL = 20

# Event API URLs carry the project slug: /api/0/projects/<org>/<project>/events/<id>/
_PROJECT_IN_URL = re.compile(r"/projects/[^/]+/([^/]+)/events/")


def verify_sentry_signature(body: bytes, headers: Mapping[str, str], client_secret: str) -> bool:
    """True when a signature header is the HMAC-SHA256 (hex) of the raw body.

    Checks `Sentry-Hook-Signature` and, like Sentry's example app, also
    `Sentry-App-Signature`. Always over the raw bytes: re-serialized JSON differs.
    """
    if not client_secret:
        return False  # an unset secret must never verify anything
    expected = hmac.new(client_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    verified = False
    for name in SIGNATURE_HEADERS:
        given = header(headers, name)
        if given is not None:
            candidate = given.strip().lower().encode("utf-8", "surrogatepass")
            # Evaluate every header (no short-circuit) so timing does not depend on which.
            verified |= hmac.compare_digest(expected.encode("ascii"), candidate)
    return verified


def severity_of(level: str | None) -> Severity:
    """Sentry event/issue level to severity; unknown or missing is an error."""
    if level is None:
        return Severity.ERROR
    return LEVELS.get(level.lower(), Severity.ERROR)


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
        if handler is None:
            return ParseResult([], note=_inert_note(resource, body))
        payload = require_object(decode_json(body), "body")
        action = payload.get("action")
        if not isinstance(action, str) or not action:
            raise PayloadError("action", f"expected a non-empty string, got {brief(action)}")
        data = payload.get("data")
        if data is None:
            raise PayloadError("data", "missing")
        return handler(action, require_object(data, "data"), options)


class SentryLegacySource:
    """The legacy WebHooks plugin: one issue per body, keyed by its group `id`."""

    name = LEGACY_NAME

    def parse(self, body: bytes, headers: Mapping[str, str], options: SourceOptions) -> ParseResult:
        payload = require_object(decode_json(body), "body")
        issue_id = _required_id(payload, "id", "id")
        event = optional_object(payload, "event", "event")
        slug = optional_str(payload, "project_slug", "project_slug") or optional_str(
            payload, "project", "project"
        )
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
        started = _first_time(event, "event", ("datetime", "timestamp", "received"))
        alert = _issue_alert(
            source=LEGACY_NAME,
            issue_id=issue_id,
            status=AlertStatus.FIRING,
            level=level,
            project=_Project(slug, None),
            title=title,
            description=culprit or "",
            annotations=annotations,
            source_url=optional_str(payload, "url", "url"),
            starts_at=started,
            options=options,
        )
        return ParseResult([alert])


# --- Integration Platform resources -------------------------------------------------

_ISSUE_STATUS: Mapping[str, AlertStatus] = {
    "created": AlertStatus.FIRING,
    "unresolved": AlertStatus.FIRING,
    "assigned": AlertStatus.FIRING,  # a repeat of the open alert, with the assignee
    "resolved": AlertStatus.RESOLVED,
    "ignored": AlertStatus.RESOLVED,  # muted in Sentry: stop paging for it
    "archived": AlertStatus.RESOLVED,
}


def _issue(action: str, data: dict[str, Any], options: SourceOptions) -> ParseResult:
    status = _ISSUE_STATUS.get(action)
    if status is None:
        return ParseResult([], note=f"recorded sentry issue.{_short(action)}")
    issue = require_object(data.get("issue"), "data.issue")
    issue_id = _required_id(issue, "id", "data.issue.id")
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
    alert = _issue_alert(
        source=NAME,
        issue_id=issue_id,
        status=status,
        level=optional_str(issue, "level", "data.issue.level"),
        project=_Project(
            optional_str(project, "slug", "data.issue.project.slug"),
            optional_id(project, "id", "data.issue.project.id"),
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


def _event_alert(action: str, data: dict[str, Any], options: SourceOptions) -> ParseResult:
    if action != "triggered":
        return ParseResult([], note=f"recorded sentry event_alert.{_short(action)}")
    event = require_object(data.get("event"), "data.event")
    issue_id = _required_id(event, "issue_id", "data.event.issue_id")
    rule = optional_str(data, "triggered_rule", "data.triggered_rule") or optional_str(
        optional_object(data, "issue_alert", "data.issue_alert"), "title", "data.issue_alert.title"
    )
    return ParseResult([_event(event, "data.event", issue_id, action, rule, options)])


def _error(action: str, data: dict[str, Any], options: SourceOptions) -> ParseResult:
    if action != "created":
        return ParseResult([], note=f"recorded sentry error.{_short(action)}")
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
    return _issue_alert(
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
        starts_at=_first_time(event, path, ("datetime", "timestamp")),
        options=options,
        extra_labels={"environment": environment} if environment else None,
    )


_METRIC_ACTIONS: Mapping[str, tuple[AlertStatus, Severity]] = {
    "critical": (AlertStatus.FIRING, Severity.CRITICAL),
    "warning": (AlertStatus.FIRING, Severity.WARNING),
    "open": (AlertStatus.FIRING, Severity.WARNING),
    "resolved": (AlertStatus.RESOLVED, Severity.WARNING),
}


def _metric_alert(action: str, data: dict[str, Any], options: SourceOptions) -> ParseResult:
    decided = _METRIC_ACTIONS.get(action)
    if decided is None:
        return ParseResult([], note=f"recorded sentry metric_alert.{_short(action)}")
    status, severity = decided
    path = "data.metric_alert"
    metric = require_object(data.get("metric_alert"), path)
    rule = optional_object(metric, "alert_rule", f"{path}.alert_rule")
    metric_id = optional_id(metric, "id", f"{path}.id") or optional_id(
        rule, "id", f"{path}.alert_rule.id"
    )
    if metric_id is None:
        raise PayloadError(f"{path}.id", "missing (and no alert_rule.id either)")
    if action == "open" and metric.get("status") == _INCIDENT_CRITICAL:
        severity = Severity.CRITICAL  # "open" carries no level; the incident status does

    slug = _first_string(rule.get("projects")) or _first_string(metric.get("projects"))
    service = map_service(slug, options)
    labels = {"service": service}
    if slug:
        labels["project"] = slug
    rule_name = optional_str(rule, "name", f"{path}.alert_rule.name")
    annotations = {"sentry_action": action, "metric_alert_id": metric_id}
    rule_id = optional_id(rule, "id", f"{path}.alert_rule.id")
    if rule_id:
        annotations["alert_rule_id"] = rule_id
    fields = {"metric_alert_id": metric_id}
    alert = Alert(
        source=NAME,
        fingerprint=fingerprint_of(METRIC_IDENTITY, fields),
        status=status,
        severity=severity,
        service=service,
        # The rule name is stable across critical/warning/resolved; the title is not.
        title=rule_name
        or optional_str(data, "description_title", "data.description_title")
        or optional_str(metric, "title", f"{path}.title")
        or f"Sentry metric alert {metric_id}",
        description=optional_str(data, "description_text", "data.description_text") or "",
        labels=labels,
        annotations=annotations,
        source_url=optional_str(data, "web_url", "data.web_url"),
        starts_at=_first_time(metric, path, ("date_started", "date_detected")),
        ends_at=parse_time(metric.get("date_closed"), f"{path}.date_closed"),
        fingerprint_fields=fields,
    )
    return ParseResult([alert])


_HANDLERS: Mapping[str, Callable[[str, dict[str, Any], SourceOptions], ParseResult]] = {
    "issue": _issue,
    "event_alert": _event_alert,
    "error": _error,
    "metric_alert": _metric_alert,
}


# --- shared pieces --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Project:
    """A Sentry project as far as a payload names it: slug and/or numeric id."""

    slug: str | None
    id: str | None


def _issue_alert(
    *,
    source: str,
    issue_id: str,
    status: AlertStatus,
    level: str | None,
    project: _Project,
    title: str,
    description: str,
    annotations: dict[str, str],
    source_url: str | None,
    starts_at: datetime | None,
    options: SourceOptions,
    extra_labels: Mapping[str, str] | None = None,
) -> Alert:
    """An alert keyed by a Sentry issue id (every issue-shaped delivery ends here)."""
    service = _service(project, options)
    labels = {"service": service}
    if project.slug or project.id:
        labels["project"] = project.slug or project.id or ""
    if level:
        labels["level"] = level.lower()
    if extra_labels:
        labels.update(extra_labels)
    fields = {"issue_id": issue_id}
    return Alert(
        source=source,
        fingerprint=fingerprint_of(ISSUE_IDENTITY, fields),
        status=status,
        severity=severity_of(level),
        service=service,
        title=title,
        description=description,
        labels=labels,
        annotations=annotations,
        source_url=source_url,
        starts_at=starts_at,
        fingerprint_fields=fields,
    )


def _service(project: _Project, options: SourceOptions) -> str:
    """The project slug mapped through `services`; a bare numeric id only when mapped."""
    if project.slug:
        return map_service(project.slug, options)
    if project.id:
        return options.services.get(project.id, UNKNOWN_SERVICE)
    return UNKNOWN_SERVICE


def _event_project(event: dict[str, Any], path: str) -> _Project:
    """Events name their project inconsistently: a slug key, a slug, an id, or a URL."""
    slug = optional_str(event, "project_slug", f"{path}.project_slug")
    project_id = optional_id(event, "project", f"{path}.project")
    if slug is None and project_id is not None and not project_id.isdigit():
        slug, project_id = project_id, None  # `project` held the slug itself
    if slug is None:
        url = optional_str(event, "url", f"{path}.url")
        match = _PROJECT_IN_URL.search(url) if url else None
        if match:
            slug = match.group(1)
    return _Project(slug, project_id)


def _assignee(value: Any) -> str | None:
    if isinstance(value, str):
        return value or None
    if isinstance(value, dict):
        for key in ("name", "email", "id"):
            item = value.get(key)
            if isinstance(item, str | int) and not isinstance(item, bool) and item != "":
                return str(item)
    return None


def _required_id(container: Mapping[str, Any], key: str, field: str) -> str:
    value = optional_id(container, key, field)
    if value is None:
        raise PayloadError(field, "missing")
    return value


def _first_time(container: Mapping[str, Any], path: str, keys: tuple[str, ...]) -> datetime | None:
    for key in keys:
        value = parse_time(container.get(key), f"{path}.{key}", epoch=True)
        if value is not None:
            return value
    return None


def _first_string(value: Any) -> str | None:
    if isinstance(value, list) and value and isinstance(value[0], str) and value[0]:
        return value[0]
    return None


def _short(text: str) -> str:
    """Sender-controlled text bound for a note: keep it one short line."""
    return text[:64].replace("\n", " ")


def _inert_note(resource: str, body: bytes) -> str:
    """The note for a resource that never alerts; Sentry may send it an empty body."""
    if not body.strip():
        return f"recorded sentry {_short(resource)}"
    payload = decode_json(body)
    action = payload.get("action") if isinstance(payload, dict) else None
    suffix = f".{_short(action)}" if isinstance(action, str) and action else ""
    return f"recorded sentry {_short(resource)}{suffix}"


sentry = SentrySource()
sentry_legacy = SentryLegacySource()
