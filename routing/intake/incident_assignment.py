"""Phase two of an ingest batch: the alerts' effects on incidents, replayed in arrival
order. New alerts join an open incident of their group, or correlate with one of their
service (routing.intake.grouping has the rule), or open one; flapping alerts reopen
theirs, resolves close an incident once its last alert is resolved; the incident rows
and timeline entries are written back at flush.

Group locks (`group_lock` rows, FOR UPDATE in sorted order, after the fingerprints)
serialize assignment across replicas; the incidents changed are locked when loaded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Connection, Table, bindparam, insert, select, update

from routing.intake.alert import Alert, Severity
from routing.intake.bulk import bind, chunks, insert_ignore
from routing.intake.dedup import DecisionKind
from routing.intake.episode_store import Episode
from routing.intake.grouping import (
    GroupKey,
    Join,
    OpenIncident,
    OpenIncidents,
    known_service,
    opened_reason,
)
from routing.intake.incident_candidates import load_candidates, sources_text
from routing.intake.storm_sql import insert_rows
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
    reopened_flapping: bool = False  # a reopen while already flagged flapping


@dataclass(slots=True)
class _Incident:
    values: dict[str, Any]
    dirty: bool = False


class IncidentAssignment:
    """The batch's incidents: locked and loaded, changed in memory, written at flush."""

    def __init__(self, conn: Connection, now: datetime, correlate_within: timedelta) -> None:
        self.conn = conn
        self.now = now
        self.correlate_within = correlate_within
        self.incidents: dict[int, _Incident] = {}  # locked and loaded
        self.open = OpenIncidents()  # the open incidents the batch's alerts could join
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
        names = sorted(
            {n for c in changes for n in c.key.lock_names(known_service(c.alert.service))}
        )
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
        incidents the batch's alerts could join (by group or by correlation)."""
        self._lock_incidents(
            c.episode.values["incident_id"]
            for c in changes
            if c.episode.values.get("incident_id") is not None
        )
        # A reopening incident's own group too: a newer incident may hold it now.
        texts = {c.key.text() for c in changes} | {
            i.values["group_key"] for i in self.incidents.values()
        }
        sources_by_service: dict[str, set[str]] = {}
        for c in changes:
            service = known_service(c.alert.service)
            if service is not None and c.kind is not DecisionKind.RESOLVE:
                sources_by_service.setdefault(service, set()).add(c.alert.source)
        within = self.correlate_within
        since = self.now - within if within > timedelta(0) else None
        candidates = load_candidates(self.conn, sorted(texts), sources_by_service, since)
        self.open = OpenIncidents(candidates)
        # The incidents new alerts would join, locked in one statement rather than one
        # each as they join (a storm of distinct alerts joins hundreds per batch).
        self._lock_incidents(
            join.incident_id
            for c in changes
            if c.kind is DecisionKind.NEW and (join := self._choose(c)) is not None
        )

    def _choose(self, change: IncidentChange) -> Join | None:
        service = known_service(change.alert.service)
        return self.open.choose(change.key, service, self.now, self.correlate_within)

    def _lock_incidents(self, ids: Iterable[int]) -> None:
        missing = sorted(set(ids) - self.incidents.keys())
        for chunk in chunks(missing):
            # NO KEY UPDATE on PostgreSQL: rows inserted with a foreign key to the incident
            # (pages, timeline) by the paging worker need not wait for this transaction.
            query = select(INCIDENT).where(INCIDENT.c.id.in_(chunk))
            for row in self.conn.execute(query.with_for_update(key_share=True)).mappings():
                self.incidents[row["id"]] = _Incident(dict(row))

    def _chosen_incident(self, change: IncidentChange) -> Join | None:
        """The open incident the change's alert joins, locked and loaded."""
        while (join := self._choose(change)) is not None:
            self._lock_incidents([join.incident_id])
            inc = self.incidents.get(join.incident_id)
            if inc is not None and inc.values["status"] != "resolved":
                return join
            self.open.remove(join.incident_id)  # resolved (by a person) since it was indexed
        return None

    def _attach(self, change: IncidentChange, *, reopened: bool = False) -> None:
        alert, key = change.alert, change.key
        join = self._chosen_incident(change)
        if join is None:
            incident_id = self._create_incident(alert, key)
            kind = IncidentEventKind.OPENED
            why = opened_reason(key, known_service(alert.service), self.correlate_within)
        else:
            incident_id = join.incident_id
            kind = IncidentEventKind.ALERT_ADDED
            why = join.reason(key, self.now, self.correlate_within)
            self._note(
                incident_id,
                "alert_joined",
                f"{alert.title}{' (reopened)' if reopened else ''}: {why}",
                {"fingerprint": alert.fingerprint, "group_key": key.text(), "join": join.kind},
            )
            self._gained(incident_id, key)
        inc = self.incidents[incident_id]
        inc.values["alert_count"] += 1
        inc.values["open_alert_count"] += 1
        self._raise_severity(inc, alert.severity)
        inc.dirty = True
        change.episode.values["incident_id"] = incident_id
        change.episode.values["group_key"] = key.text()
        change.episode.values["group_reason"] = why
        for outcome in change.episode.outcomes:
            outcome.incident_id = incident_id
            outcome.group_reason = why
        self.incident_events.append(
            IncidentEvent(kind, incident_id, alert.fingerprint, change.reopened_flapping)
        )

    def _reopen(self, change: IncidentChange) -> None:
        incident_id = change.episode.values["incident_id"]
        inc = self.incidents.get(incident_id) if incident_id is not None else None
        if inc is None:
            self._attach(change)
            return
        if inc.values["status"] == "resolved":
            home = inc.values["group_key"]
            if (
                self.open.holder(change.key.text()) is not None
                or self.open.holder(home) is not None
            ):
                # A newer incident holds this group now; the flapping alert goes by the
                # grouping rule (and its old incident cannot reopen on the same group).
                inc.values["alert_count"] -= 1
                inc.dirty = True
                self._attach(change, reopened=True)
                return
            inc.values.update(status="triggered", resolved_at=None, resolved_by=None)
            self.open.add(
                OpenIncident(
                    incident_id,
                    known_service(inc.values["service"]),
                    set(orjson.loads(inc.values["sources"] or "[]")),
                    inc.values["last_alert_at"],
                    {home},
                )
            )
            inc.values["acknowledged_at"] = None
            inc.values["acknowledged_by"] = None
            flapping = change.reopened_flapping
            self._note(
                incident_id,
                "reopened",
                f"reopened: {change.alert.title} fired again within the reopen window"
                + (" (flapping: not paged again)" if flapping else ""),
                {"fingerprint": change.alert.fingerprint, "flapping": flapping},
            )
            self.incident_events.append(
                IncidentEvent(
                    IncidentEventKind.REOPENED, incident_id, change.alert.fingerprint, flapping
                )
            )
        elif change.reopened_flapping:
            # The incident stayed open; the flip is still shown, as the flag says why.
            self._note(
                incident_id,
                "alert_refired",
                f"{change.alert.title} fired again (flapping: not paged again)",
                {"fingerprint": change.alert.fingerprint, "flapping": True},
            )
        self._gained(incident_id, change.key)
        inc.values["open_alert_count"] += 1
        self._raise_severity(inc, change.alert.severity)
        inc.dirty = True
        for outcome in change.episode.outcomes:
            outcome.incident_id = incident_id

    def _gained(self, incident_id: int, key: GroupKey) -> None:
        """An alert of `key` joined or fired again: correlation counts from now."""
        values = self.incidents[incident_id].values
        sources = {*orjson.loads(values["sources"] or "[]"), key.source}
        if incident_id in self.open:
            self.open.gained(incident_id, key, self.now)
        values["sources"] = sources_text(sources)
        values["last_alert_at"] = self.now

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
            "sources": sources_text([alert.source]),
            "last_alert_at": self.now,
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
        self.open.add(
            OpenIncident(
                incident_id, known_service(alert.service), {alert.source}, self.now, {key.text()}
            )
        )
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
    "acknowledged_at", "acknowledged_by", "resolved_at", "resolved_by", "sources",
    "last_alert_at",
]  # fmt: skip

_UPDATE_INCIDENT = (
    update(INCIDENT)
    .where(INCIDENT.c.id == bindparam("b_id"))
    .values({name: bindparam("b_" + name) for name in _INCIDENT_MUTABLE})
)
