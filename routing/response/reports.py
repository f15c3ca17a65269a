"""Response figures over a period (pure): rows in, figures out; the clock is passed in.

The period's incidents are those OPENED in [start, end). Of them:
- MTTA = acknowledged_at - created_at, over the incidents someone acknowledged. One
  resolved without an acknowledgement (by a person or by its alerts resolving) is left
  out of MTTA and counted as `resolved_without_ack`; one still triggered is left out too.
- MTTR = resolved_at - created_at, over the resolved ones; an open incident is left out
  of MTTR and counted as `open`.
- A reopened incident keeps its first opening time and its latest acknowledgement and
  resolution (a reopen clears both), so its figures cover the whole flapping episode.
- An interval below zero (replica clocks disagreeing) counts as 0.

Median and p90 use linear interpolation between the closest ranks: for sorted values
x[0..n-1], the p-quantile is at rank h = (n-1)*p, x[floor h] + (h - floor h) * (x[floor h
+ 1] - x[floor h]). It is numpy's default, Excel's PERCENTILE.INC and Python's
`statistics.quantiles(method="inclusive")`; the median is the usual one (mean of the
two middle values for an even count).

Incidents per day are counted in UTC days, so the figures agree wherever they are read.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

DEFAULT_DAYS = 7
MAX_DAYS = 366  # a year and a leap day: the per-day chart and the scan stay bounded
MAX_SPAN = timedelta(days=MAX_DAYS)
SEVERITY_ORDER = ("critical", "error", "warning", "info")
PERCENTILE_METHOD = (
    "linear interpolation between closest ranks (numpy default, Excel PERCENTILE.INC, "
    "Python statistics.quantiles method='inclusive')"
)


class PeriodError(ValueError):
    """A period that cannot be reported: `field` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime  # inclusive, aware UTC
    end: datetime  # exclusive, aware UTC

    @property
    def span(self) -> timedelta:
        return self.end - self.start

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "days": round(self.span.total_seconds() / 86400, 3),
            "day_boundaries": "UTC",
        }


def choose_period(
    now: datetime,
    *,
    days: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Period:
    """The period asked for: `days` back from now, or `from`/`to` (either may be left
    out: `to` defaults to now, `from` to DEFAULT_DAYS before `to`), DEFAULT_DAYS when
    nothing is given. PeriodError names the field: days with from/to, from not before
    to, a span over MAX_DAYS, days outside 1..MAX_DAYS."""
    if days is not None:
        if start is not None or end is not None:
            raise PeriodError("days", "give either days or from/to, not both")
        if not 1 <= days <= MAX_DAYS:
            raise PeriodError("days", f"must be between 1 and {MAX_DAYS}")
        now = _utc(now)
        return Period(now - timedelta(days=days), now)
    try:
        stop = _utc(end) if end is not None else _utc(now)
    except OverflowError:  # year 1 or 9999 with an offset
        raise PeriodError("to", "too far from today") from None
    try:
        first = _utc(start) if start is not None else stop - timedelta(days=DEFAULT_DAYS)
    except OverflowError:
        raise PeriodError("from" if start is not None else "to", "too far from today") from None
    if first >= stop:
        raise PeriodError("from" if start is not None else "to", "`from` must be before `to`")
    if stop - first > MAX_SPAN:
        raise PeriodError(
            "from" if start is not None else "to", f"the period may span at most {MAX_DAYS} days"
        )
    return Period(first, stop)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def quantile(sorted_values: Sequence[float], p: float) -> float | None:
    """The p-quantile (0 <= p <= 1) of values sorted ascending, linear between closest
    ranks (see the module docstring); None for no values."""
    n = len(sorted_values)
    if n == 0:
        return None
    rank = (n - 1) * p
    low = math.floor(rank)
    high = min(low + 1, n - 1)
    fraction = rank - low
    low_value, high_value = sorted_values[low], sorted_values[high]
    # Written so that equal neighbours give exactly that value (no rounding drift).
    return low_value + (high_value - low_value) * fraction if fraction else low_value


def summary(seconds: Iterable[float]) -> dict[str, Any]:
    """{"count", "median_s", "p90_s"} of durations in seconds (None when there are none)."""
    values = sorted(seconds)
    median, p90 = quantile(values, 0.5), quantile(values, 0.9)
    return {
        "count": len(values),
        "median_s": None if median is None else round(median, 3),
        "p90_s": None if p90 is None else round(p90, 3),
    }


def _seconds(later: datetime, earlier: datetime) -> float:
    return max(0.0, (later - earlier).total_seconds())


def incident_figures(incident: Mapping[str, Any]) -> dict[str, float | None]:
    """One incident's time to acknowledge and to resolve, in seconds (None when it has
    not been acknowledged, or not resolved)."""
    opened: datetime = incident["created_at"]
    acked: datetime | None = incident["acknowledged_at"]
    resolved: datetime | None = incident["resolved_at"]
    return {
        "tta_s": None if acked is None else _seconds(acked, opened),
        "ttr_s": None if resolved is None else _seconds(resolved, opened),
    }


def _group(incidents: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    figures = [incident_figures(i) for i in incidents]
    resolved = [i for i in incidents if i["status"] == "resolved"]
    return {
        "incidents": len(incidents),
        "acknowledged": sum(1 for f in figures if f["tta_s"] is not None),
        "resolved": len(resolved),
        "open": len(incidents) - len(resolved),
        "resolved_without_ack": sum(1 for i in resolved if i["acknowledged_at"] is None),
        "mtta": summary(f["tta_s"] for f in figures if f["tta_s"] is not None),
        "mttr": summary(
            f["ttr_s"]
            for i, f in zip(incidents, figures, strict=True)
            if i["status"] == "resolved" and f["ttr_s"] is not None
        ),
    }


def _grouped(
    incidents: Sequence[Mapping[str, Any]], key: str, order: Sequence[str] = ()
) -> list[dict[str, Any]]:
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for incident in incidents:
        groups.setdefault(incident[key], []).append(incident)
    ranked = {name: i for i, name in enumerate(order)}
    names = sorted(groups, key=lambda n: (ranked.get(n, len(ranked)), n))
    return [{key: name, **_group(groups[name])} for name in names]


def per_day(incidents: Iterable[Mapping[str, Any]], period: Period) -> list[dict[str, Any]]:
    """Incidents opened per UTC day, every day of the period listed (zeros included)."""
    counts: dict[date, int] = {}
    for incident in incidents:
        day = incident["created_at"].astimezone(UTC).date()
        counts[day] = counts.get(day, 0) + 1
    first = period.start.date()
    last = (period.end - timedelta(microseconds=1)).date()
    days = (last - first).days + 1
    return [
        {
            "day": (first + timedelta(days=n)).isoformat(),
            "incidents": counts.get(first + timedelta(days=n), 0),
        }
        for n in range(days)
    ]


def noisiest(
    alerts: Iterable[Mapping[str, Any]], flaps: Mapping[str, Mapping[str, int]], top: int
) -> dict[str, list[dict[str, Any]]]:
    """The noisiest alerts, by fingerprint: most occurrences, and most flaps.

    `alerts`: one row per fingerprint (fingerprint, title, service, source, severity,
    occurrences, episodes, incidents). `flaps`: per fingerprint {"flaps", "flagged"}:
    the times it fired again within the reopen window after resolving, and the times it
    was flagged flapping, as the incidents' timelines record them."""
    rows = []
    for alert in alerts:
        counted = flaps.get(alert["fingerprint"], {})
        rows.append(
            {
                "fingerprint": alert["fingerprint"],
                "title": alert["title"],
                "service": alert["service"],
                "source": alert["source"],
                "severity": alert["severity"],
                "occurrences": int(alert["occurrences"]),
                "episodes": int(alert["episodes"]),
                "incidents": int(alert["incidents"]),
                "flaps": int(counted.get("flaps", 0)),
                "flagged_flapping": int(counted.get("flagged", 0)),
            }
        )
    by_occurrences = sorted(
        rows, key=lambda r: (-r["occurrences"], -r["episodes"], r["fingerprint"])
    )
    flapping = [r for r in rows if r["flaps"] or r["flagged_flapping"]]
    by_flaps = sorted(
        flapping,
        key=lambda r: (-r["flaps"], -r["flagged_flapping"], -r["occurrences"], r["fingerprint"]),
    )
    return {"by_occurrences": by_occurrences[:top], "by_flaps": by_flaps[:top]}


def build_report(
    period: Period,
    incidents: Sequence[Mapping[str, Any]],
    alerts: Iterable[Mapping[str, Any]],
    flaps: Mapping[str, Mapping[str, int]],
    *,
    now: datetime,
    top: int = 10,
    totals: Mapping[str, int] | None = None,
    incomplete: bool = False,
) -> dict[str, Any]:
    """The report: `incidents` are the period's incidents (id, service, severity,
    status, created_at, acknowledged_at, resolved_at, resolved_by); `alerts` and `flaps`
    as for `noisiest`; `totals` adds counts read in SQL (alerts, occurrences).
    `incomplete` says the incidents were cut at the store's bound."""
    overall = _group(incidents)
    counts = {
        "opened": overall["incidents"],
        "acknowledged": overall["acknowledged"],
        "resolved": overall["resolved"],
        "open": overall["open"],
        "resolved_without_ack": overall["resolved_without_ack"],
        # Resolved by firebell: every alert resolved at its source, nobody resolved it.
        "auto_resolved": sum(
            1 for i in incidents if i["status"] == "resolved" and i["resolved_by"] == "firebell"
        ),
        **(totals or {}),
    }
    return {
        "period": period.as_dict(),
        "generated_at": _utc(now).isoformat(),
        "percentiles": PERCENTILE_METHOD,
        "incomplete": incomplete,
        "totals": counts,
        "overall": {"mtta": overall["mtta"], "mttr": overall["mttr"]},
        "by_service": _grouped(incidents, "service"),
        "by_severity": _grouped(incidents, "severity", SEVERITY_ORDER),
        "per_day": per_day(incidents, period),
        "noisiest": noisiest(alerts, flaps, top),
    }
