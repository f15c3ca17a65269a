"""The generic JSON webhook: a documented shape for scripts and tools without a parser.

POST one alert object, an array of them, or `{"alerts": [...]}`. An alert object:

    {
      "title":       "Disk almost full",          # required, non-empty string
      "severity":    "critical|error|warning|info",  # default "warning" (any case)
      "status":      "firing|resolved",           # default "firing"
      "service":     "payments",                  # default labels.service, else "unknown";
                                                  # mapped through the `services` config
      "labels":      {"host": "db1"},             # strings only
      "annotations": {"runbook": "https://..."},  # strings only
      "description": "93% used on /var",
      "fingerprint": "disk-db1-var",              # your own stable identity, optional
      "source_url":  "https://grafana/...",
      "starts_at":   "2024-05-01T10:00:00Z",      # RFC 3339; no offset means UTC
      "ends_at":     "2024-05-01T11:00:00Z"
    }

Identity: `fingerprint` when given; otherwise the title, the service as sent and
every label, so resending the same alert (resolved, say) resolves the one it opened.
Unknown keys are ignored. Errors name the field, e.g. `alerts[2].severity`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

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

NAME = "generic"


class GenericSource:
    """Parses the generic JSON shape documented in this module."""

    name = NAME

    def parse(self, body: bytes, headers: Mapping[str, str], options: SourceOptions) -> ParseResult:
        payload = decode_json(body)
        if isinstance(payload, list):
            items, prefix = payload, ""
        elif isinstance(payload, dict) and "alerts" in payload and "title" not in payload:
            items, prefix = payload["alerts"], "alerts"
            if not isinstance(items, list):
                raise PayloadError("alerts", f"expected an array, got {type_name(items)}")
        elif isinstance(payload, dict):
            return ParseResult([_alert(payload, "", options)])
        else:
            raise PayloadError("body", f"expected an object or array, got {type_name(payload)}")
        alerts, refused = alerts_of(items, lambda item, path: _alert(item, path, options), prefix)
        return ParseResult(alerts, refused=refused)


def _alert(raw: Any, path: str, options: SourceOptions) -> Alert:
    item = require_object(raw, path or "body")

    def at(key: str) -> str:
        return f"{path}.{key}" if path else key

    title = optional_str(item, "title", at("title"))
    if title is None or not title.strip():
        raise PayloadError(at("title"), "required: a non-empty string")
    severity = _choice(item, "severity", at("severity"), Severity, Severity.WARNING)
    status = _choice(item, "status", at("status"), AlertStatus, AlertStatus.FIRING)
    labels = string_map(item.get("labels"), at("labels"))
    annotations = string_map(item.get("annotations"), at("annotations"))
    sent_service = optional_str(item, "service", at("service"))
    service_field = at("service")
    if sent_service is None:
        sent_service, service_field = labels.get("service") or "", at("labels.service")
    service = map_service(sent_service, options, service_field)

    own = optional_str(item, "fingerprint", at("fingerprint"))
    if own is not None:
        fields = {"fingerprint": own}
    else:
        # Prefixed so a label named "title" can never collide with the title itself.
        fields = {f"label.{key}": value for key, value in labels.items()}
        fields["title"] = title
        fields["service"] = sent_service
    return Alert(
        source=NAME,
        fingerprint=fingerprint_of(NAME, fields),
        status=status,
        severity=severity,
        service=service,
        title=title,
        description=optional_str(item, "description", at("description")) or "",
        labels={**labels, "service": service},
        annotations=dict(annotations),
        source_url=optional_str(item, "source_url", at("source_url")),
        starts_at=parse_time(item.get("starts_at"), at("starts_at")),
        ends_at=parse_time(item.get("ends_at"), at("ends_at")),
        fingerprint_fields=fields,
    )


E = TypeVar("E", Severity, AlertStatus)


def _choice(item: Mapping[str, Any], key: str, field: str, kind: type[E], default: E) -> E:
    word = optional_str(item, key, field)
    if word is None:
        return default
    try:
        return kind(word.strip().lower())
    except ValueError:
        allowed = "|".join(member.value for member in kind)
        raise PayloadError(field, f"expected {allowed}, got {brief(word)}") from None


generic = GenericSource()
