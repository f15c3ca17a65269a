"""What every Sentry parser shares: source names, level to severity, the alert keyed by
a Sentry issue id, and small field readers for Sentry payloads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from integrations.sources.base import PayloadError, SourceOptions
from integrations.sources.payload import map_service, optional_id, parse_time
from routing.intake.alert import UNKNOWN_SERVICE, Alert, AlertStatus, Severity
from routing.intake.fingerprint import fingerprint_of

NAME = "sentry"
LEGACY_NAME = "sentry-legacy"
ISSUE_IDENTITY = "sentry"  # shared by both formats, so they dedup into one another

LEVELS: Mapping[str, Severity] = {
    "fatal": Severity.CRITICAL,
    "error": Severity.ERROR,
    "warning": Severity.WARNING,
    "info": Severity.INFO,
    "debug": Severity.INFO,
}


def severity_of(level: str | None) -> Severity:
    """Sentry event/issue level to severity; unknown or missing is an error."""
    if level is None:
        return Severity.ERROR
    return LEVELS.get(level.lower(), Severity.ERROR)


@dataclass(frozen=True, slots=True)
class Project:
    """A Sentry project as far as a payload names it: slug and/or numeric id, and the
    field the slug was read from (named when the service it maps to is refused)."""

    slug: str | None
    id: str | None
    slug_field: str = "project"


def issue_alert(
    *,
    source: str,
    issue_id: str,
    status: AlertStatus,
    level: str | None,
    project: Project,
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


def _service(project: Project, options: SourceOptions) -> str:
    """The project slug mapped through `services`; a bare numeric id only when mapped."""
    if project.slug:
        return map_service(project.slug, options, project.slug_field)
    if project.id:
        return options.services.get(project.id, UNKNOWN_SERVICE)
    return UNKNOWN_SERVICE


def required_id(container: Mapping[str, Any], key: str, field: str) -> str:
    value = optional_id(container, key, field)
    if value is None:
        raise PayloadError(field, "missing")
    return value


def first_time(container: Mapping[str, Any], path: str, keys: tuple[str, ...]) -> datetime | None:
    for key in keys:
        value = parse_time(container.get(key), f"{path}.{key}", epoch=True)
        if value is not None:
            return value
    return None


def short(text: str) -> str:
    """Sender-controlled text bound for a note: keep it one short line."""
    return text[:64].replace("\n", " ")
