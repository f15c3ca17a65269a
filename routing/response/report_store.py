"""The rows a report is computed from (routing.response.reports has the figures).

Every query is bounded by the period's incidents (opened in [start, end): the
`ix_incident_created` index) and reaches their alerts and timeline entries through the
incident indexes (`ix_alert_incident`, `ix_timeline_incident`). Works alike on SQLite and
PostgreSQL: the timestamps go through UTCDateTime (SQLite hands back naive UTC) and the
per-day buckets are made in Python, not with a dialect's date functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Integer, Select, Table, case, func, select

from routing.intake.bulk import chunks
from routing.response.reports import Period, build_report
from routing.storage.paging_tables import NotificationRow
from routing.storage.tables import AlertIdentity, AlertRow, IncidentRow
from routing.storage.timeline import TIMELINE

INCIDENT: Table = IncidentRow.metadata.tables["incident"]
ALERT: Table = AlertRow.metadata.tables["alert"]
IDENTITY: Table = AlertIdentity.metadata.tables["alert_identity"]
NOTIFICATION: Table = NotificationRow.metadata.tables["notification"]

# The most incidents one report reads; past it the report says it is incomplete.
MAX_INCIDENTS = 100_000
# The most flapping fingerprints read before ranking (the timeline's counts).
MAX_FLAPPING = 1000
MAX_TOP = 50
MAX_PAGES = 1000  # pages of one incident a postmortem lists
# Timeline kinds that record a flap: fired again within the reopen window after
# resolving (the incident reopened, or it refired while flagged flapping)...
FLAP_KINDS = ("reopened", "alert_refired")
# ...and the moment an alert was flagged flapping.
FLAGGED_KIND = "flapping"


def _period_ids(period: Period) -> Select[Any]:
    return select(INCIDENT.c.id).where(
        INCIDENT.c.created_at >= period.start, INCIDENT.c.created_at < period.end
    )


def period_incidents(conn: Connection, period: Period) -> tuple[list[dict[str, Any]], bool]:
    """The incidents opened in the period (oldest first), and whether MAX_INCIDENTS cut them."""
    query = (
        select(
            INCIDENT.c.id,
            INCIDENT.c.service,
            INCIDENT.c.severity,
            INCIDENT.c.status,
            INCIDENT.c.created_at,
            INCIDENT.c.acknowledged_at,
            INCIDENT.c.resolved_at,
            INCIDENT.c.resolved_by,
        )
        .where(INCIDENT.c.created_at >= period.start, INCIDENT.c.created_at < period.end)
        .order_by(INCIDENT.c.created_at, INCIDENT.c.id)
        .limit(MAX_INCIDENTS + 1)
    )
    rows = [dict(r) for r in conn.execute(query).mappings()]
    return rows[:MAX_INCIDENTS], len(rows) > MAX_INCIDENTS


def alert_totals(conn: Connection, period: Period) -> dict[str, int]:
    """Alert episodes in the period's incidents, and their occurrences."""
    row = conn.execute(
        select(func.count(ALERT.c.id), func.coalesce(func.sum(ALERT.c.occurrences), 0)).where(
            ALERT.c.incident_id.in_(_period_ids(period))
        )
    ).one()
    return {"alerts": int(row[0]), "occurrences": int(row[1])}


def flap_counts(conn: Connection, period: Period) -> dict[str, dict[str, int]]:
    """Per fingerprint: flaps and times flagged flapping, from the period's incidents'
    timelines (the most flapping MAX_FLAPPING fingerprints)."""
    fingerprint = TIMELINE.c.data["fingerprint"].as_string()
    flaps = func.sum(case((TIMELINE.c.kind.in_(FLAP_KINDS), 1), else_=0), type_=Integer)
    flagged = func.sum(case((TIMELINE.c.kind == FLAGGED_KIND, 1), else_=0), type_=Integer)
    query = (
        select(fingerprint.label("fingerprint"), flaps.label("flaps"), flagged.label("flagged"))
        .where(
            TIMELINE.c.incident_id.in_(_period_ids(period)),
            TIMELINE.c.kind.in_((*FLAP_KINDS, FLAGGED_KIND)),
        )
        .group_by(fingerprint)
        .order_by(flaps.desc(), flagged.desc(), fingerprint)
        .limit(MAX_FLAPPING)
    )
    return {
        row.fingerprint: {"flaps": int(row.flaps or 0), "flagged": int(row.flagged or 0)}
        for row in conn.execute(query)
        if row.fingerprint
    }


def _alert_groups(conn: Connection, period: Period) -> Select[Any]:
    return (
        select(
            ALERT.c.fingerprint,
            func.sum(ALERT.c.occurrences).label("occurrences"),
            func.count(ALERT.c.id).label("episodes"),
            func.count(func.distinct(ALERT.c.incident_id)).label("incidents"),
        )
        .where(ALERT.c.incident_id.in_(_period_ids(period)))
        .group_by(ALERT.c.fingerprint)
    )


def alert_rows(
    conn: Connection, period: Period, top: int, fingerprints: list[str]
) -> list[dict[str, Any]]:
    """One row per fingerprint: the `top` with most occurrences in the period's
    incidents, plus those in `fingerprints` (the flapping ones), with the title,
    service, source and severity of each one's latest episode."""
    groups = _alert_groups(conn, period)
    noisy = groups.order_by(
        func.sum(ALERT.c.occurrences).desc(), func.count(ALERT.c.id).desc(), ALERT.c.fingerprint
    ).limit(top)
    found = {row.fingerprint: dict(row._mapping) for row in conn.execute(noisy)}
    wanted = [f for f in fingerprints if f not in found]
    for chunk in chunks(wanted):
        for row in conn.execute(groups.where(ALERT.c.fingerprint.in_(chunk))):
            found[row.fingerprint] = dict(row._mapping)
    _describe(conn, found)
    return list(found.values())


def _describe(conn: Connection, found: Mapping[str, dict[str, Any]]) -> None:
    """Title, service, source and severity of each fingerprint's current episode."""
    for chunk in chunks(list(found)):
        query = (
            select(
                ALERT.c.fingerprint,
                ALERT.c.title,
                ALERT.c.service,
                ALERT.c.source,
                ALERT.c.severity,
            )
            .select_from(IDENTITY.join(ALERT, ALERT.c.id == IDENTITY.c.current_alert_id))
            .where(IDENTITY.c.fingerprint.in_(chunk))
        )
        for row in conn.execute(query):
            found[row.fingerprint].update(
                title=row.title, service=row.service, source=row.source, severity=row.severity
            )
    for values in found.values():
        for name in ("title", "service", "source", "severity"):
            values.setdefault(name, "")


def load_report(conn: Connection, period: Period, now: datetime, top: int = 10) -> dict[str, Any]:
    """Read the period's rows and build the report (routing.response.reports)."""
    top = max(1, min(top, MAX_TOP))
    incidents, incomplete = period_incidents(conn, period)
    flaps = flap_counts(conn, period)
    alerts = alert_rows(conn, period, top, list(flaps))
    return build_report(
        period,
        incidents,
        alerts,
        flaps,
        now=now,
        top=top,
        totals=alert_totals(conn, period),
        incomplete=incomplete,
    )


def incident_pages(conn: Connection, incident_id: int) -> list[dict[str, Any]]:
    """The pages queued for an incident, oldest first: who, via what, which step, when
    queued and sent. Never the address (a contact URL is a credential)."""
    query = (
        select(
            NOTIFICATION.c.recipient,
            NOTIFICATION.c.via,
            NOTIFICATION.c.step,
            NOTIFICATION.c.status,
            NOTIFICATION.c.created_at,
            NOTIFICATION.c.sent_at,
        )
        .where(NOTIFICATION.c.incident_id == incident_id, NOTIFICATION.c.kind == "page")
        .order_by(NOTIFICATION.c.id)
        .limit(MAX_PAGES)
    )
    return [dict(row) for row in conn.execute(query).mappings()]
