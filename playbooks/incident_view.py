"""An incident as playbooks see it: what templates read as `incident` and matchers match.

`labels` are the routing labels of the incident's alerts (those routes and silences
match on, with severity, service and source filled in), the first alert's winning where
alerts disagree, plus `sentry_issue_id` when one of its alerts came from Sentry.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, select

from routing.intake.alert import routing_labels
from routing.storage.tables import AlertRow, IncidentRow

INCIDENT: Table = IncidentRow.metadata.tables["incident"]
ALERT: Table = AlertRow.metadata.tables["alert"]

# Labels come from the first alerts; an incident of thousands adds nothing past these.
MAX_ALERTS = 200


def incident_url(public_url: str | None, incident_id: int) -> str:
    return f"{public_url.rstrip('/')}/incidents/{incident_id}" if public_url else ""


def incident_view(
    conn: Connection, incident_id: int, public_url: str | None
) -> dict[str, Any] | None:
    """{id, title, status, severity, service, url, labels}, or None for no such incident."""
    incident = (
        conn.execute(
            select(
                INCIDENT.c.id,
                INCIDENT.c.title,
                INCIDENT.c.status,
                INCIDENT.c.severity,
                INCIDENT.c.service,
            ).where(INCIDENT.c.id == incident_id)
        )
        .mappings()
        .first()
    )
    if incident is None:
        return None
    alerts = conn.execute(
        select(
            ALERT.c.source,
            ALERT.c.severity,
            ALERT.c.service,
            ALERT.c.labels,
            ALERT.c.fingerprint_fields,
        )
        .where(ALERT.c.incident_id == incident_id)
        .order_by(ALERT.c.id)
        .limit(MAX_ALERTS)
    ).all()
    labels: dict[str, str] = {}
    sentry_issue_id: str | None = None
    for alert in alerts:
        own = routing_labels(alert.labels or {}, alert.severity, alert.service, alert.source)
        labels = {**own, **labels}  # the earlier alert's value wins
        issue_id = (alert.fingerprint_fields or {}).get("issue_id")
        if sentry_issue_id is None and alert.source.startswith("sentry") and issue_id:
            sentry_issue_id = str(issue_id)
    if not alerts:
        labels = {"severity": incident.severity, "service": incident.service}
    if sentry_issue_id is not None:
        labels["sentry_issue_id"] = sentry_issue_id
    return {
        "id": incident.id,
        "title": incident.title,
        "status": incident.status,
        "severity": incident.severity,
        "service": incident.service,
        "url": incident_url(public_url, incident.id),
        "labels": labels,
    }
