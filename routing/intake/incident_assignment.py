"""Phase two of an ingest batch: the alerts' effects on incidents, replayed in arrival
order. New alerts join an open incident of their group or open one, flapping alerts
reopen theirs, resolves close an incident once its last alert is resolved; the incident
rows and timeline entries are written back at flush.

Group locks (`group_lock` rows, FOR UPDATE in sorted order, after the fingerprints)
serialize assignment across replicas; the incidents changed are locked when loaded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert, select, update

from routing.intake.alert import Alert, Severity
from routing.intake.bulk import bind, chunks, insert_ignore
from routing.intake.dedup import DecisionKind
from routing.intake.episode_store import Episode
from routing.intake.grouping import GroupKey, OpenIncidents
from routing.intake.storm_sql import insert_rows, open_incident_groups
from routing.intake.submission import IncidentEvent, IncidentEventKind
from routing.storage.tables import GroupLock, IncidentRow
from routing.storage.timeline import TIMELINE

INCIDENT: Table = IncidentRow.metadata.tables["incident"]
GROUP_LOCK: Table = GroupLock.metadata.tables["group_lock"]


@dataclass(frozen=True, slots=True)
class IncidentChange:
    """A decision that changes incidents, replayed in arrival order in phase two."""

    kind: DecisionKind
    episode: Episode
    alert: Alert
    flapping_now: bool
    key: GroupKey  # the alert's group, computed once in phase one


@dataclass(slots=True)
class _Incident:
    values: dict[str, Any]
    dirty: bool = False


class IncidentAssignment:
    """The batch's incidents: locked and loaded, changed in memory, written at flush."""

    def __init__(self, conn: Connection, now: datetime, correlate_by: str) -> None:
        self.conn = conn
        self.now = now
        self.correlate_by = correlate_by
        self.incidents: dict[int, _Incident] = {}  # locked and loaded
        self.open = OpenIncidents()  # every open incident of the batch's services
        self.timeline: list[dict[str, Any]] = []
        self.incident_events: list[IncidentEvent] = []

    def apply(self, changes: Sequence[IncidentChange]) -> None:
        if not changes:
            return
        self._lock_groups(changes)
        self._load_open_incidents(changes)
        for change in changes:
            if change.kind is DecisionKind.NEW:
                self._attach(change)
            elif change.kind is DecisionKind.REOPEN:
                self._reopen(change)
            else:
                self._resolve(change)
            if change.flapping_now and change.episode.values["incident_id"] is not None:
                self._note(
                    change.episode.values["incident_id"],
                    "flapping",
                    f"{change.alert.title} is flapping (resolved and fired again "
                    f"{change.episode.values['flips']} times within the reopen window)",
                    {"fingerprint": change.alert.fingerprint},
                )

    def _lock_groups(self, changes: Sequence[IncidentChange]) -> None:
        correlate = self.correlate_by
        names = sorted({c.key.lock_name(correlate) for c in changes})
        insert_ignore(self.conn, GROUP_LOCK, [{"name": n} for n in names])
        for chunk in chunks(names):
            self.conn.execute(
                select(GROUP_LOCK.c.name)
                .where(GROUP_LOCK.c.name.in_(chunk))
                .order_by(GROUP_LOCK.c.name)
                .with_for_update()
            ).all()

    def _load_open_incidents(self, changes: Sequence[IncidentChange]) -> None:
        """Lock and load the incidents the batch's episodes belong to, and index the open
        incidents of the batch's services that its alerts could join (id and group)."""
        self._lock_incidents(
            c.episode.values["incident_id"]
            for c in changes
            if c.episode.values.get("incident_id") is not None
        )
        keys = {c.key for c in changes}
        names = {key.names_text() for key in keys}
        # A reopening incident's own group too: a newer incident may hold it now.
        texts = {key.text() for key in keys} | {
            i.values["group_key"] for i in self.incidents.values()
        }
        self.open = OpenIncidents(
            (incident_id, _key_from_labels(labels))
            for incident_id, labels in open_incident_groups(
                self.conn,
                sorted({c.alert.service for c in changes}),
                names.pop() if len(names) == 1 else None,
                sorted(texts),
            )
        )
        # The incidents new alerts would join, locked in one statement rather than one
        # each as they join (a storm of distinct alerts joins hundreds per batch).
        self._lock_incidents(
            incident_id
            for c in changes
            if c.kind is DecisionKind.NEW and (incident_id := self.open.choose(c.key)) is not None
        )

    def _lock_incidents(self, ids: Iterable[int]) -> None:
        missing = sorted(set(ids) - self.incidents.keys())
        for chunk in chunks(missing):
            # NO KEY UPDATE on PostgreSQL: rows inserted with a foreign key to the incident
            # (pages, timeline) by the paging worker need not wait for this transaction.
            query = select(INCIDENT).where(INCIDENT.c.id.in_(chunk))
            for row in self.conn.execute(query.with_for_update(key_share=True)).mappings():
                self.incidents[row["id"]] = _Incident(dict(row))

    def _chosen_incident(self, key: GroupKey) -> int | None:
        """The open incident an alert with `key` joins, locked and loaded."""
        while (incident_id := self.open.choose(key)) is not None:
            self._lock_incidents([incident_id])
            inc = self.incidents.get(incident_id)
            if inc is not None and inc.values["status"] != "resolved":
                return incident_id
            self.open.remove(incident_id)  # resolved (by a person) since it was indexed
        return None

    def _attach(self, change: IncidentChange, *, reason: str = "joined") -> None:
        alert, key = change.alert, change.key
        incident_id = self._chosen_incident(key)
        if incident_id is None:
            incident_id = self._create_incident(alert, key)
            kind = IncidentEventKind.OPENED
        else:
            kind = IncidentEventKind.ALERT_ADDED
            self._note(
                incident_id,
                "alert_" + reason,
                f"{alert.title} {reason} (group {key.text()})",
                {"fingerprint": alert.fingerprint, "group_key": key.text()},
            )
        inc = self.incidents[incident_id]
        inc.values["alert_count"] += 1
        inc.values["open_alert_count"] += 1
        self._raise_severity(inc, alert.severity)
        inc.dirty = True
        change.episode.values["incident_id"] = incident_id
        change.episode.values["group_key"] = key.text()
        for outcome in change.episode.outcomes:
            outcome.incident_id = incident_id
        self.incident_events.append(IncidentEvent(kind, incident_id, alert.fingerprint))

    def _reopen(self, change: IncidentChange) -> None:
        incident_id = change.episode.values["incident_id"]
        inc = self.incidents.get(incident_id) if incident_id is not None else None
        if inc is None:
            self._attach(change)
            return
        if inc.values["status"] == "resolved":
            key = _key_from_labels(inc.values["group_labels"])
            if self.open.exact(key) is not None:
                # A newer incident holds this group now; the flapping alert joins it.
                inc.values["alert_count"] -= 1
                inc.dirty = True
                self._attach(change, reason="reopened into this incident")
                return
            inc.values.update(status="triggered", resolved_at=None, resolved_by=None)
            self.open.add(incident_id, key)
            inc.values["acknowledged_at"] = None
            inc.values["acknowledged_by"] = None
            self._note(
                incident_id,
                "reopened",
                f"reopened: {change.alert.title} fired again within the reopen window",
                {"fingerprint": change.alert.fingerprint},
            )
            self.incident_events.append(
                IncidentEvent(IncidentEventKind.REOPENED, incident_id, change.alert.fingerprint)
            )
        inc.values["open_alert_count"] += 1
        self._raise_severity(inc, change.alert.severity)
        inc.dirty = True
        for outcome in change.episode.outcomes:
            outcome.incident_id = incident_id

    def _resolve(self, change: IncidentChange) -> None:
        incident_id = change.episode.values["incident_id"]
        inc = self.incidents.get(incident_id) if incident_id is not None else None
        if inc is None:
            return
        inc.values["open_alert_count"] = max(0, inc.values["open_alert_count"] - 1)
        inc.dirty = True
        self._note(
            incident_id,
            "alert_resolved",
            f"{change.alert.title} resolved by {change.alert.source}",
            {"fingerprint": change.alert.fingerprint},
        )
        if inc.values["open_alert_count"] == 0 and inc.values["status"] != "resolved":
            inc.values.update(status="resolved", resolved_at=self.now, resolved_by="firebell")
            self.open.remove(incident_id)
            self._note(incident_id, "resolved", "all alerts resolved: incident resolved", {})
            self.incident_events.append(
                IncidentEvent(IncidentEventKind.RESOLVED, incident_id, change.alert.fingerprint)
            )

    def _create_incident(self, alert: Alert, key: GroupKey) -> int:
        values: dict[str, Any] = {
            "title": alert.title[:500],
            "status": "triggered",
            "severity": alert.severity.value,
            "severity_rank": alert.severity.rank,
            "service": alert.service,
            "group_key": key.text(),
            "group_labels": key.as_dict(),
            "group_names": key.names_text(),
            "alert_count": 0,
            "open_alert_count": 0,
            "created_at": self.now,
            "updated_at": self.now,
        }
        [incident_id] = insert_rows(self.conn, INCIDENT, [values])
        values.update(
            id=incident_id,
            acknowledged_at=None,
            acknowledged_by=None,
            resolved_at=None,
            resolved_by=None,
        )
        self.incidents[incident_id] = _Incident(values)
        self.open.add(incident_id, key)
        self._note(
            incident_id,
            "created",
            f"incident opened by {alert.source}: {alert.title}",
            {"fingerprint": alert.fingerprint, "group_key": key.text()},
        )
        return incident_id

    def _raise_severity(self, inc: _Incident, severity: Severity) -> None:
        if severity.rank > inc.values["severity_rank"]:
            inc.values["severity_rank"] = severity.rank
            inc.values["severity"] = severity.value

    def _note(self, incident_id: int, kind: str, message: str, data: dict[str, Any]) -> None:
        self.timeline.append(
            {
                "incident_id": incident_id,
                "at": self.now,
                "kind": kind,
                "actor": "firebell",
                "message": message[:2000],
                "data": data,
            }
        )

    def flush(self) -> None:
        """Write the changed incidents and the batch's timeline entries."""
        conn = self.conn
        incidents = [i.values for i in self.incidents.values() if i.dirty]
        for values in incidents:
            values["updated_at"] = self.now
        for chunk in chunks(incidents):
            conn.execute(_UPDATE_INCIDENT, [bind(v, _INCIDENT_MUTABLE) for v in chunk])
        for chunk in chunks(self.timeline):
            conn.execute(insert(TIMELINE), chunk)


_INCIDENT_MUTABLE = [
    "status", "severity", "severity_rank", "alert_count", "open_alert_count", "updated_at",
    "acknowledged_at", "acknowledged_by", "resolved_at", "resolved_by",
]  # fmt: skip

_UPDATE_INCIDENT = (
    update(INCIDENT)
    .where(INCIDENT.c.id == bindparam("b_id"))
    .values({name: bindparam("b_" + name) for name in _INCIDENT_MUTABLE})
)


def _key_from_labels(labels: dict[str, str]) -> GroupKey:
    return GroupKey(tuple(labels.items()))
