"""What an ingest batch takes and gives back, pure: the submissions and the policy that
goes in, the per-alert outcomes and incident events that come out (routing and the chat
sync act on those events in the same transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from routing.intake.alert import Alert
from routing.intake.dedup import DecisionKind, DedupPolicy


@dataclass(frozen=True, slots=True)
class Submission:
    """One accepted request (or an internal event when `body` is None)."""

    source: str
    alerts: Sequence[Alert]
    body: bytes | None = None
    content_type: str = ""
    request_id: str = ""
    note: str | None = None
    unparsed: int = 0


@dataclass(frozen=True, slots=True)
class IngestPolicy:
    group_by: tuple[str, ...] = ("service", "alertname")
    correlate_by: str = "service"
    default: DedupPolicy = field(default_factory=DedupPolicy)
    per_source: dict[str, DedupPolicy] = field(default_factory=dict)

    def for_source(self, source: str) -> DedupPolicy:
        return self.per_source.get(source, self.default)


class IncidentEventKind(StrEnum):
    OPENED = "opened"
    ALERT_ADDED = "alert_added"
    REOPENED = "reopened"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class IncidentEvent:
    kind: IncidentEventKind
    incident_id: int
    fingerprint: str


@dataclass(slots=True)
class AlertOutcome:
    fingerprint: str
    kind: DecisionKind
    incident_id: int | None = None
    alert_id: int | None = None
    group_key: str = ""


@dataclass(slots=True)
class SubmissionOutcome:
    inbox_id: int | None
    alerts: list[AlertOutcome]

    def count(self, kind: DecisionKind) -> int:
        return sum(1 for a in self.alerts if a.kind is kind)


@dataclass(slots=True)
class BatchOutcome:
    submissions: list[SubmissionOutcome]
    incident_events: list[IncidentEvent]
