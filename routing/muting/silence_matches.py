"""Which open alerts a set of matchers matches: the preview before a silence is made, and
how many open alerts each silence mutes now (the web page's silences list).

Bounded: the database narrows the candidates with what it can decide exactly (`service`,
and `=` on other labels), at most `scan` of them are read (narrow columns, newest first),
and the matchers themselves decide in Python, on the same routing labels triage uses.
Past the scan bound the count is a lower bound (`exact` False), never a guess.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, func, select

from routing.intake.alert import routing_labels
from routing.muting.matcher import Matcher, MatchType, matches
from routing.muting.silence import Silence, silence_active
from routing.storage.tables import AlertRow

ALERT: Table = AlertRow.metadata.tables["alert"]
OPEN_STATUSES = ("pending", "firing")  # in ix_alert_status_service, unlike != 'resolved'
PREVIEW_LIMIT = 20
SCAN_LIMIT = 5000
# The silences list counts for every silence on every refresh: a smaller bound.
COUNT_SCAN_LIMIT = 1000
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Routing labels that fall back to a column when the source sent no such label.
_DEFAULTED = ("severity", "source")
_COLUMNS = (
    ALERT.c.id,
    ALERT.c.title,
    ALERT.c.status,
    ALERT.c.severity,
    ALERT.c.service,
    ALERT.c.source,
    ALERT.c.labels,
    ALERT.c.incident_id,
    ALERT.c.last_seen,
)


@dataclass(frozen=True, slots=True)
class MatchedAlert:
    id: int
    title: str
    status: str
    severity: str
    service: str
    incident_id: int | None
    last_seen: datetime
    labels: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class AlertMatches:
    """The first `limit` matching open alerts (newest first) and how many matched."""

    alerts: list[MatchedAlert]
    total: int
    exact: bool  # False: more candidates than the scan bound; `total` is "at least"

    @property
    def more(self) -> int:
        return self.total - len(self.alerts)


def _narrowing(matcher: Matcher) -> ColumnElement[bool] | None:
    """A SQL condition every alert the matcher matches satisfies, when one is exact and
    cheap; None leaves the matcher to Python. Never narrower than the matcher."""
    name, kind, value = matcher.name, matcher.type, matcher.value
    if name == "service" and kind in (MatchType.EQUAL, MatchType.NOT_EQUAL):
        # routing_labels always sets `service` from the column.
        return ALERT.c.service == value if kind is MatchType.EQUAL else ALERT.c.service != value
    # `label=""` also matches a missing label: no exact SQL for it that stays cheap.
    if kind is not MatchType.EQUAL or not value or not _PLAIN_NAME.fullmatch(name):
        return None
    label = ALERT.c.labels[name].as_string()
    if name in _DEFAULTED:
        return func.coalesce(label, getattr(ALERT.c, name)) == value
    return label == value


def open_alerts_matching(
    conn: Connection,
    matchers: Sequence[Matcher],
    *,
    limit: int = PREVIEW_LIMIT,
    scan: int = SCAN_LIMIT,
) -> AlertMatches:
    """Open (pending or firing) alerts all `matchers` match, as a silence would see them."""
    query = select(*_COLUMNS).where(ALERT.c.status.in_(OPEN_STATUSES))
    for matcher in matchers:
        condition = _narrowing(matcher)
        if condition is not None:
            query = query.where(condition)
    rows = conn.execute(query.order_by(ALERT.c.id.desc()).limit(scan + 1)).all()
    exact = len(rows) <= scan
    found: list[MatchedAlert] = []
    total = 0
    for row in rows[:scan]:
        labels = routing_labels(row.labels or {}, row.severity, row.service, row.source)
        if not matches(matchers, labels):
            continue
        total += 1
        if len(found) < limit:
            found.append(_matched(row, labels))
    return AlertMatches(found, total, exact)


def _matched(row: Any, labels: Mapping[str, str]) -> MatchedAlert:
    return MatchedAlert(
        id=row.id,
        title=row.title,
        status=row.status,
        severity=row.severity,
        service=row.service,
        incident_id=row.incident_id,
        last_seen=row.last_seen,
        labels=labels,
    )


def muted_counts(
    conn: Connection, silences: Sequence[Silence], now: datetime, *, scan: int = COUNT_SCAN_LIMIT
) -> dict[str, AlertMatches]:
    """For each silence in force at `now` (by id): how many open alerts it mutes. A
    silence not muting now (pending, between windows, ended) mutes none and is absent."""
    return {
        silence.id: open_alerts_matching(conn, silence.matchers, limit=0, scan=scan)
        for silence in silences
        if silence.id is not None and silence_active(silence, now)
    }
