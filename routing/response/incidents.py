"""Reading alerts and incidents, and the state changes people make (ack, resolve, note).

Shared by the REST API, the CLI and the chat command layer so all act alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Table, select, update
from sqlalchemy.exc import OperationalError

from routing.intake.alert import INCIDENT_STATUSES as INCIDENT_STATUSES
from routing.intake.dedup import flag_holds
from routing.storage.tables import AlertIdentity, AlertRow, IncidentRow
from routing.storage.timeline import TIMELINE as TIMELINE
from routing.storage.timeline import add_timeline as add_timeline

ALERT: Table = AlertRow.metadata.tables["alert"]
INCIDENT: Table = IncidentRow.metadata.tables["incident"]
IDENTITY: Table = AlertIdentity.metadata.tables["alert_identity"]
_LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL, FOR UPDATE NOWAIT on a locked row

ALERT_STATUSES = ("pending", "firing", "resolved")


class IncidentNotFound(LookupError):
    pass


class InvalidTransition(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class AlertFilter:
    status: str | None = None
    source: str | None = None
    service: str | None = None
    severity: str | None = None
    incident_id: int | None = None
    limit: int = 100
    # The instant the alerts' flapping flags are read at (they lift at flapping_until);
    # None shows them as stored.
    now: datetime | None = None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def alert_item(row: Any, now: datetime | None = None) -> dict[str, Any]:
    flapping = (
        row["flapping"] if now is None else flag_holds(row["flapping"], row["flapping_until"], now)
    )
    return {
        "id": row["id"],
        "fingerprint": row["fingerprint"],
        "episode": row["episode"],
        "source": row["source"],
        "status": row["status"],
        "severity": row["severity"],
        "service": row["service"],
        "title": row["title"],
        "description": row["description"],
        "labels": row["labels"],
        "annotations": row["annotations"],
        "source_url": row["source_url"],
        "occurrences": row["occurrences"],
        "first_seen": _iso(row["first_seen"]),
        "last_seen": _iso(row["last_seen"]),
        "starts_at": _iso(row["starts_at"]),
        "ends_at": _iso(row["ends_at"]),
        "resolved_at": _iso(row["resolved_at"]),
        "flapping": flapping,
        # The flag lifts at this time unless the alert flips again (grouping.flap_quiet).
        "flapping_until": _iso(row["flapping_until"]) if flapping else None,
        "incident_id": row["incident_id"],
        "why": {
            "fingerprint_fields": row["fingerprint_fields"],
            "group_key": row["group_key"],
            "grouping": row["group_reason"],  # same group, correlation, or opened it
        },
    }


def incident_item(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "title": row["title"],
        "status": row["status"],
        "severity": row["severity"],
        "service": row["service"],
        "alert_count": row["alert_count"],
        "open_alert_count": row["open_alert_count"],
        "created_at": _iso(row["created_at"]),
        "updated_at": _iso(row["updated_at"]),
        "acknowledged_at": _iso(row["acknowledged_at"]),
        "acknowledged_by": row["acknowledged_by"],
        "resolved_at": _iso(row["resolved_at"]),
        "resolved_by": row["resolved_by"],
        "why": {
            "group_key": row["group_key"],
            "group_labels": row["group_labels"],
            "sources": orjson.loads(row["sources"] or "[]"),
        },
    }


def timeline_item(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "at": _iso(row["at"]),
        "kind": row["kind"],
        "actor": row["actor"],
        "message": row["message"],
        "data": row["data"],
    }


def list_alerts(conn: Connection, flt: AlertFilter) -> list[dict[str, Any]]:
    query = select(ALERT).order_by(ALERT.c.last_seen.desc(), ALERT.c.id.desc()).limit(flt.limit)
    for column, value in (
        (ALERT.c.status, flt.status),
        (ALERT.c.source, flt.source),
        (ALERT.c.service, flt.service),
        (ALERT.c.severity, flt.severity),
        (ALERT.c.incident_id, flt.incident_id),
    ):
        if value is not None:
            query = query.where(column == value)
    return [alert_item(r, flt.now) for r in conn.execute(query).mappings()]


def list_incidents(
    conn: Connection,
    *,
    status: str | None = None,
    open_only: bool = False,
    service: str | None = None,
    severity: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    query = select(INCIDENT).order_by(INCIDENT.c.id.desc()).limit(limit)
    if open_only:
        query = query.where(INCIDENT.c.status != "resolved")
    for column, value in (
        (INCIDENT.c.status, status),
        (INCIDENT.c.service, service),
        (INCIDENT.c.severity, severity),
    ):
        if value is not None:
            query = query.where(column == value)
    return [incident_item(r) for r in conn.execute(query).mappings()]


def get_incident(
    conn: Connection, incident_id: int, *, details: bool = True, now: datetime | None = None
) -> dict[str, Any]:
    row = conn.execute(select(INCIDENT).where(INCIDENT.c.id == incident_id)).mappings().first()
    if row is None:
        raise IncidentNotFound(f"no incident #{incident_id}")
    item = incident_item(row)
    if details:
        item["alerts"] = list_alerts(
            conn, AlertFilter(incident_id=incident_id, limit=1000, now=now)
        )
        timeline = conn.execute(
            select(TIMELINE).where(TIMELINE.c.incident_id == incident_id).order_by(TIMELINE.c.id)
        ).mappings()
        item["timeline"] = [timeline_item(r) for r in timeline]
    return item


def _lock_incident(conn: Connection, incident_id: int) -> Any:
    row = (
        conn.execute(select(INCIDENT).where(INCIDENT.c.id == incident_id).with_for_update())
        .mappings()
        .first()
    )
    if row is None:
        raise IncidentNotFound(f"no incident #{incident_id}")
    return row


def acknowledge(conn: Connection, incident_id: int, actor: str, now: datetime) -> dict[str, Any]:
    row = _lock_incident(conn, incident_id)
    if row["status"] == "resolved":
        raise InvalidTransition(f"incident #{incident_id} is already resolved")
    if row["status"] == "acknowledged":
        raise InvalidTransition(
            f"incident #{incident_id} was already acknowledged by {row['acknowledged_by']}"
        )
    conn.execute(
        update(INCIDENT)
        .where(INCIDENT.c.id == incident_id)
        .values(status="acknowledged", acknowledged_at=now, acknowledged_by=actor, updated_at=now)
    )
    add_timeline(conn, incident_id, now, "acknowledged", f"acknowledged by {actor}", actor)
    return get_incident(conn, incident_id, details=False)


def resolve(
    conn: Connection, incident_id: int, actor: str, now: datetime, note: str | None = None
) -> dict[str, Any]:
    """Resolve the incident and the alerts still firing in it, as PagerDuty does: if the
    source keeps firing, its next notification reopens the incident (within
    reopen_window) or opens a new one, and pages again, instead of being counted on a
    resolved incident that nobody is paged for."""
    # Ingest's lock order (alert identities, then the incident), so neither waits on
    # the other in a cycle; SQLite's BEGIN IMMEDIATE serializes everything anyway.
    locked = _lock_identities(conn, _firing_fingerprints(conn, incident_id))
    row = _lock_incident(conn, incident_id)
    if row["status"] == "resolved":
        raise InvalidTransition(f"incident #{incident_id} is already resolved")
    joined = _firing_fingerprints(conn, incident_id) - locked
    if joined:
        # Alerts that joined between the read and the incident lock: their writers may
        # wait for this incident, so wait for none of them.
        _lock_identities(conn, joined, nowait=True, incident_id=incident_id)
    still_firing = conn.execute(
        update(ALERT)
        .where(ALERT.c.incident_id == incident_id, ALERT.c.status == "firing")
        .values(status="resolved", resolved_at=now)
    ).rowcount
    conn.execute(
        update(INCIDENT)
        .where(INCIDENT.c.id == incident_id)
        .values(
            status="resolved",
            resolved_at=now,
            resolved_by=actor,
            updated_at=now,
            open_alert_count=0,
        )
    )
    message = f"resolved by {actor}" + (f": {note}" if note else "")
    add_timeline(conn, incident_id, now, "resolved", message, actor)
    if still_firing:
        alerts = f"{still_firing} alert{'s' if still_firing > 1 else ''}"
        add_timeline(
            conn,
            incident_id,
            now,
            "alerts_resolved",
            f"{alerts} still firing resolved with the incident: firing again reopens it and pages",
            actor,
        )
    return get_incident(conn, incident_id, details=False)


def _firing_fingerprints(conn: Connection, incident_id: int) -> set[str]:
    query = select(ALERT.c.fingerprint).where(
        ALERT.c.incident_id == incident_id, ALERT.c.status == "firing"
    )
    return set(conn.execute(query).scalars())


def _lock_identities(
    conn: Connection, fingerprints: set[str], *, nowait: bool = False, incident_id: int = 0
) -> set[str]:
    if not fingerprints:
        return set()
    query = (
        select(IDENTITY.c.fingerprint)
        .where(IDENTITY.c.fingerprint.in_(sorted(fingerprints)))
        .order_by(IDENTITY.c.fingerprint)
        .with_for_update(nowait=nowait)
    )
    try:
        return set(conn.execute(query).scalars())
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
            raise
        raise InvalidTransition(
            f"incident #{incident_id} is taking new alerts right now; try again"
        ) from exc


def add_note(conn: Connection, incident_id: int, actor: str, now: datetime, text: str) -> None:
    _lock_incident(conn, incident_id)
    add_timeline(conn, incident_id, now, "note", text, actor)
