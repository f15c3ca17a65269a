"""The Integration Platform `metric_alert` resource: alerts keyed by the metric alert
(incident) id, so critical, warning and resolved deliveries update one alert."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integrations.sources.base import ParseResult, PayloadError, SourceOptions
from integrations.sources.payload import (
    map_service,
    optional_id,
    optional_object,
    optional_str,
    parse_time,
    require_object,
)
from integrations.sources.sentry_alert import NAME, first_time, short
from routing.intake.alert import Alert, AlertStatus, Severity
from routing.intake.fingerprint import fingerprint_of

METRIC_IDENTITY = "sentry-metric"

# Sentry IncidentStatus values a metric alert carries in `status`.
_INCIDENT_CRITICAL = 20

_METRIC_ACTIONS: Mapping[str, tuple[AlertStatus, Severity]] = {
    "critical": (AlertStatus.FIRING, Severity.CRITICAL),
    "warning": (AlertStatus.FIRING, Severity.WARNING),
    "open": (AlertStatus.FIRING, Severity.WARNING),
    "resolved": (AlertStatus.RESOLVED, Severity.WARNING),
}


def parse_metric_alert(action: str, data: dict[str, Any], options: SourceOptions) -> ParseResult:
    decided = _METRIC_ACTIONS.get(action)
    if decided is None:
        return ParseResult([], note=f"recorded sentry metric_alert.{short(action)}")
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

    slug = _first_string(rule.get("projects"))
    slug_field = f"{path}.alert_rule.projects[0]"
    if slug is None:
        slug, slug_field = _first_string(metric.get("projects")), f"{path}.projects[0]"
    service = map_service(slug, options, slug_field)
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
        starts_at=first_time(metric, path, ("date_started", "date_detected")),
        ends_at=parse_time(metric.get("date_closed"), f"{path}.date_closed"),
        fingerprint_fields=fields,
    )
    return ParseResult([alert])


def _first_string(value: Any) -> str | None:
    if isinstance(value, list) and value and isinstance(value[0], str) and value[0]:
        return value[0]
    return None
