"""Pure grouping: which open incident an alert joins, and why.

Two rules, in this order:

1. Same group: within one source, alerts with equal values of the group_by labels (the
   matched route's, else `grouping.group_by`) share an incident, as in Alertmanager. A
   label an alert lacks is left out of its key, so it matches only alerts that lack it
   too: never a wildcard. The key carries the source, so sources never meet by rule 1.
2. Correlation, bounded in time: an alert of a known service joins the open incident of
   that service that holds alerts of another source and last gained an alert within
   `correlate_within` of now (the most recently active one; the oldest on a tie). So a
   Sentry issue and the Prometheus alert about the same outage meet, and a Sentry
   incident open for days does not swallow every later alertname of its service.

A service the sources could not name ("unknown") is no value to group or correlate on:
`grouping_labels` leaves it out. `choose_incident` is the rule in its plainest form;
`OpenIncidents` indexes it for thousands of open incidents and is property-tested
against it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

import orjson

from routing.basics.duration import format_duration
from routing.basics.storable import bounded_key
from routing.intake.alert import UNKNOWN_SERVICE, Alert, routing_labels

GROUP_BY_ALL = "..."  # Alertmanager's group_by: ['...'], every alert its own group


def known_service(service: str) -> str | None:
    """The service to group and correlate on; None when the source could not name one."""
    return service if service and service != UNKNOWN_SERVICE else None


def grouping_labels(alert: Alert) -> dict[str, str]:
    """The labels an alert is grouped on: as routes see them (a `severity` and `source`
    where the source sent none, `service` as mapped), without an unknown service."""
    labels = routing_labels(alert.labels, alert.severity.value, alert.service, alert.source)
    if known_service(alert.service) is None:
        del labels["service"]
    return labels


@dataclass(frozen=True, slots=True)
class GroupKey:
    """An alert's group: its source and the group_by labels it carries (absent labels
    are left out, not blank)."""

    source: str
    labels: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, source: str, labels: Mapping[str, str], group_by: Sequence[str]) -> GroupKey:
        names = sorted(labels) if tuple(group_by) == (GROUP_BY_ALL,) else group_by
        return cls(source, tuple((name, labels[name]) for name in names if labels.get(name)))

    def as_dict(self) -> dict[str, str]:
        return dict(self.labels)

    def text(self) -> str:
        """Canonical text form, stored on alerts and incidents and shown to people:
        `alertmanager {"alertname":"Disk","service":"api"}` (hashed past 400 characters)."""
        labels = orjson.dumps(dict(self.labels), option=orjson.OPT_SORT_KEYS).decode()
        return bounded_key(f"{self.source} {labels}")  # incident.group_key holds 400

    def lock_names(self, service: str | None) -> tuple[str, ...]:
        """The locks an assignment takes: its group's (one open incident per group, even
        when group_by leaves the service out) and its known service's (alerts of one
        service may correlate, whatever their groups). group_lock.name holds 400."""
        group = bounded_key(f"group={self.text()}")
        return (group,) if service is None else (group, bounded_key(f"service={service}"))


@dataclass(slots=True)
class OpenIncident:
    """What grouping needs of an open incident."""

    id: int
    service: str | None  # None: no known service, never correlated with
    sources: set[str]
    last_alert_at: datetime | None  # when it last gained an alert (None: unknown, long ago)
    groups: set[str] = field(default_factory=set)  # group key texts of alerts it holds

    def gained(self, key: GroupKey, at: datetime) -> None:
        self.groups.add(key.text())
        self.sources.add(key.source)
        if self.last_alert_at is None or at > self.last_alert_at:
            self.last_alert_at = at


class JoinKind(StrEnum):
    SAME_GROUP = "same group"
    CORRELATED = "correlated"


@dataclass(frozen=True, slots=True)
class Join:
    incident_id: int
    kind: JoinKind
    # Correlation: the service shared, the sources the incident held and when it last
    # gained an alert.
    sources: tuple[str, ...] = ()
    last_alert_at: datetime | None = None
    service: str | None = None

    def reason(self, key: GroupKey, now: datetime, within: timedelta) -> str:
        """One line for the alert's `why`, the timeline and `simulate`."""
        if self.kind is JoinKind.SAME_GROUP:
            return f"joined incident #{self.incident_id}: same group {key.text()}"
        assert self.last_alert_at is not None
        ago = format_duration(max(now - self.last_alert_at, timedelta(0)))
        return (
            f"joined incident #{self.incident_id} by correlation: service "
            f"{self.service}, it holds alerts of {', '.join(self.sources)} "
            f"and gained one {ago} ago (grouping.correlate_within {format_duration(within)})"
        )


def opened_reason(key: GroupKey, service: str | None, within: timedelta) -> str:
    """Why an alert opened an incident of its own."""
    if service is None:
        return f"opened an incident: no open incident has group {key.text()}; no known service"
    if within <= timedelta(0):
        return f"opened an incident: no open incident has group {key.text()}"
    return (
        f"opened an incident: no open incident has group {key.text()}, and no incident of "
        f"service {service} with alerts of another source gained one in the last "
        f"{format_duration(within)}"
    )


def _correlates(incident: OpenIncident, source: str, service: str, since: datetime) -> bool:
    return (
        incident.service == service
        and bool(incident.sources - {source})
        and incident.last_alert_at is not None
        and incident.last_alert_at >= since
    )


def choose_incident(
    key: GroupKey,
    service: str | None,
    now: datetime,
    within: timedelta,
    open_incidents: Sequence[OpenIncident],
) -> Join | None:
    """The open incident an alert with `key` of `service` joins at `now`, or None (it
    opens one). `within` is grouping.correlate_within; 0 turns correlation off."""
    text = key.text()
    same = [incident.id for incident in open_incidents if text in incident.groups]
    if same:
        return Join(min(same), JoinKind.SAME_GROUP)
    if service is None or within <= timedelta(0):
        return None
    since = now - within
    candidates = [i for i in open_incidents if _correlates(i, key.source, service, since)]
    if not candidates:
        return None
    best = max(candidates, key=lambda i: (i.last_alert_at, -i.id))
    return Join(
        best.id, JoinKind.CORRELATED, tuple(sorted(best.sources)), best.last_alert_at, service
    )


# (last_alert_at, -id): the larger is the incident correlation prefers.
_Rank = tuple[datetime, int]


class OpenIncidents:
    """The open incidents a batch may assign alerts to, indexed so that choosing costs the
    same with 5 or 5,000 open (a storm of distinct alerts opens thousands): answers
    exactly what `choose_incident` would over the same incidents."""

    def __init__(self, incidents: Iterable[OpenIncident] = ()) -> None:
        self._incidents: dict[int, OpenIncident] = {}
        self._by_group: dict[str, set[int]] = {}
        self._by_service: dict[str, set[int]] = {}
        # service -> source -> the best-ranked incident holding alerts of that source.
        # Ranks only grow (last_alert_at), so adding and gaining keep it exact; a removal
        # marks the service for a rebuild when next asked.
        self._best: dict[str, dict[str, tuple[_Rank, int]]] = {}
        self._stale: set[str] = set()
        for incident in incidents:
            self.add(incident)

    def __contains__(self, incident_id: object) -> bool:
        return incident_id in self._incidents

    def add(self, incident: OpenIncident) -> None:
        self.remove(incident.id)
        self._incidents[incident.id] = incident
        for text in incident.groups:
            self._by_group.setdefault(text, set()).add(incident.id)
        if incident.service is not None:
            self._by_service.setdefault(incident.service, set()).add(incident.id)
            self._rank(incident)

    def gained(self, incident_id: int, key: GroupKey, at: datetime) -> None:
        """An alert of `key` joined the incident at `at`."""
        incident = self._incidents[incident_id]
        incident.gained(key, at)
        self._by_group.setdefault(key.text(), set()).add(incident_id)
        if incident.service is not None:
            self._rank(incident)

    def remove(self, incident_id: int) -> None:
        incident = self._incidents.pop(incident_id, None)
        if incident is None:
            return
        for text in incident.groups:
            holders = self._by_group.get(text)
            if holders is not None:
                holders.discard(incident_id)
                if not holders:
                    del self._by_group[text]
        if incident.service is not None:
            self._by_service[incident.service].discard(incident_id)
            self._stale.add(incident.service)

    def holder(self, group_text: str) -> int | None:
        """The open incident holding alerts of this group (the oldest, if several)."""
        holders = self._by_group.get(group_text)
        return min(holders) if holders else None

    def choose(
        self, key: GroupKey, service: str | None, now: datetime, within: timedelta
    ) -> Join | None:
        """What `choose_incident` answers, without looking at every open incident."""
        same = self.holder(key.text())
        if same is not None:
            return Join(same, JoinKind.SAME_GROUP)
        if service is None or within <= timedelta(0):
            return None
        found: tuple[_Rank, int] | None = None
        for source, best in self._best_of(service).items():
            if source != key.source and (found is None or best[0] > found[0]):
                found = best
        if found is None or found[0][0] < now - within:
            return None
        incident = self._incidents[found[1]]
        return Join(
            incident.id,
            JoinKind.CORRELATED,
            tuple(sorted(incident.sources)),
            incident.last_alert_at,
            service,
        )

    def _rank(self, incident: OpenIncident) -> None:
        if incident.last_alert_at is None:
            return
        assert incident.service is not None
        rank = (incident.last_alert_at, -incident.id)
        table = self._best.setdefault(incident.service, {})
        for source in incident.sources:
            current = table.get(source)
            if current is None or rank > current[0]:
                table[source] = (rank, incident.id)

    def _best_of(self, service: str) -> dict[str, tuple[_Rank, int]]:
        if service in self._stale:
            self._stale.discard(service)
            self._best.pop(service, None)
            for incident_id in self._by_service.get(service, ()):
                self._rank(self._incidents[incident_id])
        return self._best.get(service, {})
