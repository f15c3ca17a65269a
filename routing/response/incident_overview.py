"""The incident list people look at: open incidents first, with what they need to triage
(alert counts, who acknowledged, when the escalation pages next), in two queries.

The filter and the ordering are plain values (`OverviewFilter`, `parse_filter`) so the web
page, the API and the CLI read the same list. "Mine" is decided from what the tables hold:
an incident is the viewer's when they acknowledged it, or when a page of its escalation
was addressed to them (an outbox row of kind "page" naming them as recipient, not
cancelled: pages to a schedule name the person on call when the step ran). Who would be on
call for a step that has not run yet depends on the config, not the tables, so it does
not count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, and_, case, exists, func, or_, select

from routing.storage.paging_tables import EscalationRow, NotificationRow
from routing.storage.tables import IncidentRow

INCIDENT: Table = IncidentRow.metadata.tables["incident"]
ESCALATION: Table = EscalationRow.metadata.tables["escalation"]
NOTIFICATION: Table = NotificationRow.metadata.tables["notification"]

STATUSES = ("open", "triggered", "acknowledged", "resolved", "all")
SEVERITIES = ("critical", "error", "warning", "info")
MAX_LIMIT = 1000
DEFAULT_LIMIT = 500  # all of a bad night on one page; "show more" beyond


class InvalidFilter(ValueError):
    """A filter value that is not allowed; `field` names the query parameter."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class OverviewFilter:
    status: str = "open"
    service: str | None = None
    severity: str | None = None
    mine: bool = False
    limit: int = DEFAULT_LIMIT


@dataclass(frozen=True, slots=True)
class OverviewItem:
    """One row of the list (attributes, not a dict: templates read them 10x per row)."""

    id: int
    title: str
    status: str
    severity: str
    service: str
    alert_count: int
    open_alert_count: int
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    next_escalation_at: datetime | None  # the earliest running escalation's next step


@dataclass(frozen=True, slots=True)
class Overview:
    items: list[OverviewItem]
    total: int  # incidents matching the filter (items holds at most `limit` of them)
    open_total: int  # open incidents, whatever the filter (the tab title's count)


def parse_filter(
    status: str | None = None,
    service: str | None = None,
    severity: str | None = None,
    mine: str | None = None,
    limit: str | None = None,
) -> OverviewFilter:
    """Query-string values -> a filter; empty values mean "any". Raises InvalidFilter."""
    status = status or "open"
    if status not in STATUSES:
        raise InvalidFilter("status", f"must be one of {', '.join(STATUSES)}")
    if severity and severity not in SEVERITIES:
        raise InvalidFilter("severity", f"must be one of {', '.join(SEVERITIES)}")
    if service is not None and len(service) > 200:
        raise InvalidFilter("service", "longer than 200 characters")
    if service is not None and "\x00" in service:  # PostgreSQL refuses it in a query
        raise InvalidFilter("service", "must not contain the NUL character")
    if mine not in (None, "", "0", "1"):
        raise InvalidFilter("mine", "must be 1 or 0")
    count = DEFAULT_LIMIT
    if limit:
        # isascii: "²" is a digit to isdigit() but not to int(); len: int() of 5000 digits raises.
        if not (limit.isascii() and limit.isdigit() and len(limit) < 10) or not (
            1 <= int(limit) <= MAX_LIMIT
        ):
            raise InvalidFilter("limit", f"must be a whole number from 1 to {MAX_LIMIT}")
        count = int(limit)
    return OverviewFilter(status, service or None, severity or None, mine == "1", count)


def _conditions(flt: OverviewFilter, viewer: str | None) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if flt.status == "open":
        # IN (not !=) so the (status, service) index serves it once resolved rows pile up.
        where.append(INCIDENT.c.status.in_(("triggered", "acknowledged")))
    elif flt.status != "all":
        where.append(INCIDENT.c.status == flt.status)
    if flt.service is not None:
        where.append(INCIDENT.c.service == flt.service)
    if flt.severity is not None:
        where.append(INCIDENT.c.severity == flt.severity)
    if flt.mine:
        if viewer is None:
            where.append(INCIDENT.c.id.is_(None))  # nobody to match: an empty list
        else:
            paged = exists().where(
                NOTIFICATION.c.incident_id == INCIDENT.c.id,
                NOTIFICATION.c.kind == "page",
                NOTIFICATION.c.recipient == viewer,
                NOTIFICATION.c.status != "cancelled",
            )
            where.append(or_(INCIDENT.c.acknowledged_by == viewer, paged))
    return where


def _next_escalation() -> Any:
    """When the incident's earliest running (unpaused) escalation step is due.

    Only incident_id is constrained, so both databases probe uq_escalation_incident_policy
    (incident_id first) once per listed incident, whatever their statistics say: with
    `state` in the WHERE, SQLite walked ix_escalation_due for every row instead, and a
    grouped join became a nested loop on a PostgreSQL table not yet analyzed."""
    running = and_(ESCALATION.c.state == "active", ESCALATION.c.paused_at.is_(None))
    return (
        select(func.min(case((running, ESCALATION.c.due_at))))
        .where(ESCALATION.c.incident_id == INCIDENT.c.id)
        .scalar_subquery()
    )


def load_overview(conn: Connection, flt: OverviewFilter, viewer: str | None) -> Overview:
    """The filtered incidents, open first, then most severe, then newest; and the counts."""
    where = _conditions(flt, viewer)
    resolved_last = case((INCIDENT.c.status == "resolved", 1), else_=0)
    rows = conn.execute(
        select(
            INCIDENT.c.id,
            INCIDENT.c.title,
            INCIDENT.c.status,
            INCIDENT.c.severity,
            INCIDENT.c.service,
            INCIDENT.c.alert_count,
            INCIDENT.c.open_alert_count,
            INCIDENT.c.created_at,
            INCIDENT.c.acknowledged_at,
            INCIDENT.c.acknowledged_by,
            INCIDENT.c.resolved_at,
            _next_escalation().label("next_escalation_at"),
        )
        .where(*where)
        .order_by(
            resolved_last,
            INCIDENT.c.severity_rank.desc(),
            INCIDENT.c.created_at.desc(),
            INCIDENT.c.id,
        )
        .limit(flt.limit)
    ).all()  # one fetch, not a driver call per row
    items = [OverviewItem(**r._mapping) for r in rows]
    # Both counts in one round trip; each is an index-only count on (status, service).
    matching = select(func.count()).select_from(INCIDENT).where(*where).scalar_subquery()
    opened = (
        select(func.count())
        .select_from(INCIDENT)
        .where(INCIDENT.c.status.in_(("triggered", "acknowledged")))
        .scalar_subquery()
    )
    total, open_total = conn.execute(select(matching, opened)).one()
    return Overview(items, int(total), int(open_total))


def age_seconds(item: OverviewItem, now: datetime) -> int:
    """How long the incident has been open (until it resolved, for a resolved one)."""
    end = item.resolved_at or now
    return max(0, int((end - item.created_at).total_seconds()))
