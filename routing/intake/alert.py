"""The normalized Alert every source produces, with its severity and status vocabulary."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Severity(StrEnum):
    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse; used to pick an incident's severity from its alerts."""
        return _SEVERITY_RANK[self]

    @classmethod
    def highest(cls, severities: list[Severity]) -> Severity:
        return max(severities, key=lambda s: s.rank) if severities else cls.INFO


_SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2, Severity.CRITICAL: 3}


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert as a source reported it, before dedup.

    `fingerprint` is the stable identity (hex digest); `fingerprint_fields` are the
    values it was computed from, kept so people can see why two alerts were collapsed.
    `labels` always carries `service` (when known) so grouping and routing can use it.
    """

    source: str
    fingerprint: str
    status: AlertStatus
    severity: Severity
    service: str
    title: str
    description: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    source_url: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    fingerprint_fields: Mapping[str, str] = field(default_factory=dict)


UNKNOWN_SERVICE = "unknown"


def routing_labels(
    labels: Mapping[str, str], severity: str, service: str, source: str
) -> dict[str, str]:
    """The labels routes, silences and inhibitions match on (and grouping, see
    routing.intake.grouping.grouping_labels).

    Sources keep their own labels; where a source sent no `severity` (Sentry, Nginx),
    firebell's normalized severity fills in, so one `severity="critical"` route serves
    every source. `service` is always the correlated service name.
    """
    out = dict(labels)
    out.setdefault("severity", severity)
    out["service"] = service
    out.setdefault("source", source)
    return out


# The states of the incident alerts are grouped into (the `incident.status` column).
INCIDENT_STATUSES = ("triggered", "acknowledged", "resolved")
