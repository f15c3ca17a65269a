"""What an ingest batch takes and gives back, pure: the submissions and the policy that
goes in, the per-alert outcomes and incident events that come out (routing and the chat
sync act on those events in the same transaction)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
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
    # A quiet-period resolve (the Nginx sweeper): each resolve holds only for an alert
    # still not seen since then, as checked in the write transaction.
    quiet_before: datetime | None = None
    # Remarks a source made on an alert (a Sentry issue comment): timeline entries for
    # the incident of the alert's current episode.
    comments: Sequence[SourceComment] = ()


@dataclass(frozen=True, slots=True)
class SourceComment:
    """A comment a source made on one of its alerts, by someone of that source: the
    timeline names them `author` ("sentry:colleen"), never as a firebell user."""

    fingerprint: str  # the alert it is about
    author: str
    message: str
    data: Mapping[str, str] = field(default_factory=dict)  # e.g. the source's comment id


@dataclass(frozen=True, slots=True)
class IngestPolicy:
    group_by: tuple[str, ...] = ("service", "alertname")  # grouping.group_by
    # Cross-source correlation by service: only within this long after the incident last
    # gained an alert (grouping.correlate_within; 0 turns it off).
    correlate_within: timedelta = timedelta(minutes=15)
    # The group_by of the route an alert matches first (bot.runtime.state builds it from
    # the route tree); None: `group_by` for every alert.
    route_group_by: Callable[[Alert], Sequence[str]] | None = None
    default: DedupPolicy = field(default_factory=DedupPolicy)
    per_source: dict[str, DedupPolicy] = field(default_factory=dict)

    def for_source(self, source: str) -> DedupPolicy:
        return self.per_source.get(source, self.default)

    def group_by_for(self, alert: Alert) -> Sequence[str]:
        return self.group_by if self.route_group_by is None else self.route_group_by(alert)


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
    # Caused by a reopen of an alert already flagged flapping: recorded, not paged again.
    flapping: bool = False


@dataclass(slots=True)
class AlertOutcome:
    fingerprint: str
    kind: DecisionKind
    incident_id: int | None = None
    alert_id: int | None = None
    group_key: str = ""
    group_reason: str = ""  # how it came into its incident (set when it joins or opens one)


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
