"""Prometheus Alertmanager webhook (`webhook_config`, versions 3 and 4) to alerts.

Identity is the alert's full label set. Alertmanager's own `fingerprint` is not
used: version 3 bodies (and senders older than v0.19.0) have none, and a hash of
the sorted labels is just as stable. The AM fingerprint, when present, is kept in
`annotations["alertmanager_fingerprint"]` for cross-reference.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integrations.sources.base import ParseResult, PayloadError, SourceOptions
from integrations.sources.payload import (
    alerts_of,
    brief,
    decode_json,
    map_service,
    optional_str,
    parse_time,
    require_object,
    string_map,
    type_name,
)
from routing.intake.alert import Alert, AlertStatus, Severity
from routing.intake.fingerprint import fingerprint_of

NAME = "alertmanager"

# Severity label values seen in the wild, lowercased; anything else is a warning.
SEVERITY_WORDS: Mapping[str, Severity] = {
    "critical": Severity.CRITICAL,
    "page": Severity.CRITICAL,
    "p1": Severity.CRITICAL,
    "fatal": Severity.CRITICAL,
    "emergency": Severity.CRITICAL,
    "error": Severity.ERROR,
    "high": Severity.ERROR,
    "major": Severity.ERROR,
    "p2": Severity.ERROR,
    "warning": Severity.WARNING,
    "warn": Severity.WARNING,
    "medium": Severity.WARNING,
    "minor": Severity.WARNING,
    "p3": Severity.WARNING,
    "info": Severity.INFO,
    "informational": Severity.INFO,
    "low": Severity.INFO,
    "none": Severity.INFO,
    "p4": Severity.INFO,
    "p5": Severity.INFO,
}

_STATUSES = {"firing": AlertStatus.FIRING, "resolved": AlertStatus.RESOLVED}


def severity_of(word: str | None) -> Severity:
    """Map a `severity` label value to a firebell severity (default warning)."""
    if word is None:
        return Severity.WARNING
    return SEVERITY_WORDS.get(word.strip().lower(), Severity.WARNING)


class AlertmanagerSource:
    """Parses an Alertmanager webhook body; one Alert per entry in `alerts`."""

    name = NAME

    def parse(self, body: bytes, headers: Mapping[str, str], options: SourceOptions) -> ParseResult:
        payload = require_object(decode_json(body), "body")
        raw_alerts = payload.get("alerts")
        if not isinstance(raw_alerts, list):
            problem = (
                "missing"
                if raw_alerts is None
                else f"expected an array, got {type_name(raw_alerts)}"
            )
            raise PayloadError("alerts", problem)
        group_status = payload.get("status")
        alerts, refused = alerts_of(
            raw_alerts, lambda raw, path: _alert(raw, path, group_status, options), "alerts"
        )
        return ParseResult(alerts, note=_truncation_note(payload), refused=refused)


def _alert(raw: Any, path: str, group_status: Any, options: SourceOptions) -> Alert:
    item = require_object(raw, path)
    if "labels" not in item:
        raise PayloadError(f"{path}.labels", "missing")
    labels = string_map(item["labels"], f"{path}.labels")
    annotations = dict(string_map(item.get("annotations"), f"{path}.annotations"))

    status_word = item.get("status") or group_status  # some senders omit per-alert status
    status = _STATUSES.get(status_word) if isinstance(status_word, str) else None
    if status is None:
        problem = f"expected firing or resolved, got {brief(status_word)}"
        raise PayloadError(f"{path}.status", problem)

    am_fingerprint = optional_str(item, "fingerprint", f"{path}.fingerprint")
    if am_fingerprint is not None:
        annotations["alertmanager_fingerprint"] = am_fingerprint

    service_label = "service" if labels.get("service") else "job"
    service = map_service(labels.get(service_label), options, f"{path}.labels.{service_label}")
    out_labels = dict(labels)
    out_labels["service"] = service

    alertname = labels.get("alertname")
    title = annotations.get("summary") or alertname or "Alertmanager alert"
    description = annotations.get("description") or annotations.get("message") or ""
    return Alert(
        source=NAME,
        fingerprint=fingerprint_of(NAME, labels),
        status=status,
        severity=severity_of(labels.get("severity")),
        service=service,
        title=title,
        description=description,
        labels=out_labels,
        annotations=annotations,
        source_url=optional_str(item, "generatorURL", f"{path}.generatorURL"),
        starts_at=parse_time(item.get("startsAt"), f"{path}.startsAt"),
        ends_at=parse_time(item.get("endsAt"), f"{path}.endsAt"),
        fingerprint_fields=labels,
    )


def _truncation_note(payload: Mapping[str, Any]) -> str | None:
    """A note only when Alertmanager dropped alerts (`max_alerts`): people must know."""
    truncated = payload.get("truncatedAlerts")
    if truncated is None:
        return None
    if isinstance(truncated, bool) or not isinstance(truncated, int):
        raise PayloadError("truncatedAlerts", f"expected an integer, got {type_name(truncated)}")
    if truncated <= 0:
        return None
    context = ", ".join(
        f"{key} {payload[key]}"
        for key in ("receiver", "groupKey", "externalURL")
        if isinstance(payload.get(key), str | int) and not isinstance(payload.get(key), bool)
    )
    note = f"{truncated} alerts truncated by Alertmanager"
    return f"{note} ({context})" if context else note


alertmanager = AlertmanagerSource()
