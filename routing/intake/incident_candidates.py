"""The open incidents an ingest batch's alerts could join, read for the grouping index
(routing.intake.grouping.OpenIncidents): those holding alerts of the batch's groups, and
those its alerts could correlate with (their service, alerts of another source, gained
one within correlate_within). Not locked: the group locks serialize assignment, and the
incidents changed are locked when loaded."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import orjson
from sqlalchemy import ColumnElement, Connection, Table, and_, or_, select

from routing.intake.bulk import chunks
from routing.intake.grouping import OpenIncident, known_service
from routing.storage.tables import AlertRow, IncidentRow

INCIDENT: Table = IncidentRow.metadata.tables["incident"]
ALERT: Table = AlertRow.metadata.tables["alert"]
# An incident's statuses but "resolved", spelled out: `IN` lets the correlation lookup
# use ix_incident_status_service, where `!= 'resolved'` scanned every open incident (a
# cost per batch that grew with the open incidents, as in a storm of new ones).
UNRESOLVED = ("triggered", "acknowledged")


def sources_text(sources: Iterable[str]) -> str:
    """incident.sources: the sorted JSON list (compared as text by `load_candidates`)."""
    return orjson.dumps(sorted(set(sources))).decode()


def load_candidates(
    conn: Connection,
    group_keys: Sequence[str],
    sources_by_service: Mapping[str, set[str]],
    since: datetime | None,
) -> list[OpenIncident]:
    """Open incidents holding alerts of `group_keys`, and with `since` (None: correlation
    off) those of the services in `sources_by_service` that gained an alert since then.
    A service whose batch alerts all come from one source skips incidents holding only
    that source: they can never correlate (in a storm of distinct alerts of one source
    that is nearly every open incident of the service)."""
    groups: dict[int, set[str]] = defaultdict(set)
    for chunk in chunks(sorted(group_keys)):
        rows = conn.execute(
            select(ALERT.c.incident_id, ALERT.c.group_key)
            .distinct()
            .join(INCIDENT, INCIDENT.c.id == ALERT.c.incident_id)
            .where(ALERT.c.group_key.in_(chunk), INCIDENT.c.status != "resolved")
        )
        for incident_id, key in rows:
            groups[incident_id].add(key)
    wanted: list[ColumnElement[bool]] = []
    if groups:
        wanted.append(INCIDENT.c.id.in_(sorted(groups)))
    if since is not None and sources_by_service:
        wanted += _correlation_filters(sources_by_service, since)
    if not wanted:
        return []
    query = select(
        INCIDENT.c.id, INCIDENT.c.service, INCIDENT.c.sources, INCIDENT.c.last_alert_at
    ).where(INCIDENT.c.status.in_(UNRESOLVED), or_(*wanted))
    return [
        OpenIncident(
            id=incident_id,
            service=known_service(service),
            sources=set(orjson.loads(sources or "[]")),
            last_alert_at=last_alert_at,
            groups=groups.get(incident_id, set()),
        )
        for incident_id, service, sources, last_alert_at in conn.execute(query)
    ]


def _correlation_filters(
    sources_by_service: Mapping[str, set[str]], since: datetime
) -> list[ColumnElement[bool]]:
    only: dict[str, list[str]] = defaultdict(list)  # one source -> its services
    mixed: list[str] = []
    for service, sources in sorted(sources_by_service.items()):
        if len(sources) == 1:
            only[next(iter(sources))].append(service)
        else:
            mixed.append(service)
    recent = INCIDENT.c.last_alert_at >= since
    filters = [
        and_(recent, INCIDENT.c.service.in_(services), INCIDENT.c.sources != sources_text([source]))
        for source, services in sorted(only.items())
    ]
    if mixed:
        filters.append(and_(recent, INCIDENT.c.service.in_(mixed)))
    return filters
