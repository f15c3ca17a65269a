"""The report's pure figures: percentiles against Python's statistics module, the period
rules (422 fields), MTTA/MTTR inclusion rules, UTC day buckets and the noisy rankings."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing.response.reports import (
    DEFAULT_DAYS,
    MAX_DAYS,
    Period,
    PeriodError,
    build_report,
    choose_period,
    noisiest,
    per_day,
    quantile,
    summary,
)

NOW = datetime(2026, 12, 6, 14, 0, tzinfo=UTC)
durations = st.lists(
    st.floats(min_value=0, max_value=1e7, allow_nan=False, allow_infinity=False), min_size=1
)


@given(durations)
def test_the_median_is_statistics_median(values: list[float]) -> None:
    assert quantile(sorted(values), 0.5) == pytest.approx(statistics.median(values), abs=1e-6)


@given(st.lists(st.floats(0, 1e7, allow_nan=False), min_size=2))
def test_p90_is_statistics_quantiles_inclusive(values: list[float]) -> None:
    reference = statistics.quantiles(values, n=10, method="inclusive")[8]
    assert quantile(sorted(values), 0.9) == pytest.approx(reference, rel=1e-9, abs=1e-6)


@given(durations, st.floats(0, 1))
def test_a_quantile_lies_between_the_values_and_grows_with_p(values: list[float], p: float) -> None:
    ordered = sorted(values)
    q = quantile(ordered, p)
    assert q is not None and ordered[0] <= q <= ordered[-1]
    higher = quantile(ordered, min(1.0, p + 0.1))
    assert higher is not None and higher >= q


def test_known_percentiles() -> None:
    assert quantile([], 0.5) is None
    assert quantile([7.0], 0.9) == 7.0
    assert quantile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5  # the mean of the middle two
    # rank (10-1)*0.9 = 8.1: 9 + 0.1 * (10 - 9)
    assert quantile([float(n) for n in range(1, 11)], 0.9) == pytest.approx(9.1)
    assert summary([]) == {"count": 0, "median_s": None, "p90_s": None}
    assert summary([60, 120, 600]) == {"count": 3, "median_s": 120.0, "p90_s": 504.0}


def test_the_period_defaults_and_refusals_name_the_field() -> None:
    default = choose_period(NOW)
    assert (default.start, default.end) == (NOW - timedelta(days=DEFAULT_DAYS), NOW)
    assert choose_period(NOW, days=1).start == NOW - timedelta(days=1)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    assert choose_period(NOW, start=start) == Period(start, NOW)
    # No zone means UTC; another zone is converted.
    naive = choose_period(NOW, start=datetime(2026, 11, 1), end=datetime(2026, 11, 2))
    assert naive == Period(start, start + timedelta(days=1))

    def field_of(**kw: Any) -> str:
        with pytest.raises(PeriodError) as caught:
            choose_period(NOW, **kw)
        return caught.value.field

    assert field_of(days=7, start=start) == "days"
    assert field_of(days=0) == "days"
    assert field_of(days=MAX_DAYS + 1) == "days"
    assert field_of(start=NOW, end=NOW) == "from"
    assert field_of(end=datetime(2026, 11, 1, tzinfo=UTC), start=NOW) == "from"
    assert field_of(start=NOW - timedelta(days=MAX_DAYS + 1)) == "from"
    assert choose_period(NOW, start=NOW - timedelta(days=MAX_DAYS)).span.days == MAX_DAYS


def incident(
    id: int,
    opened: datetime,
    *,
    service: str = "api",
    severity: str = "critical",
    ack: float | None = None,
    resolve: float | None = None,
    by: str = "alice",
) -> dict[str, Any]:
    return {
        "id": id,
        "service": service,
        "severity": severity,
        "status": "resolved" if resolve is not None else ("acknowledged" if ack else "triggered"),
        "created_at": opened,
        "acknowledged_at": None if ack is None else opened + timedelta(seconds=ack),
        "resolved_at": None if resolve is None else opened + timedelta(seconds=resolve),
        "resolved_by": by if resolve is not None else None,
    }


def test_mtta_and_mttr_leave_out_the_unacknowledged_and_the_open() -> None:
    period = choose_period(NOW, days=7)
    t = NOW - timedelta(days=2)
    rows = [
        incident(1, t, ack=60, resolve=600),
        incident(2, t, ack=120, resolve=1200),
        incident(3, t, resolve=300, by="firebell"),  # resolved by its alerts, no ack
        incident(4, t, ack=30),  # acknowledged, still open
        incident(5, t, service="db", severity="warning"),  # triggered, nobody acked
        # Replica clocks: acknowledged "before" it opened counts as 0, not negative.
        incident(6, t, service="db", severity="warning", ack=-5, resolve=90),
    ]
    report = build_report(period, rows, [], {}, now=NOW)
    assert report["totals"] == {
        "opened": 6,
        "acknowledged": 4,
        "resolved": 4,
        "open": 2,
        "resolved_without_ack": 1,
        "auto_resolved": 1,
    }
    assert report["overall"]["mtta"] == summary([60, 120, 30, 0])
    assert report["overall"]["mttr"] == summary([600, 1200, 300, 90])
    api, db = report["by_service"]
    assert (api["service"], api["incidents"], api["open"], api["resolved_without_ack"]) == (
        "api", 4, 1, 1
    )  # fmt: skip
    assert api["mtta"] == {"count": 3, "median_s": 60.0, "p90_s": 108.0}
    assert (db["service"], db["mttr"]["count"], db["mtta"]["median_s"]) == ("db", 1, 0.0)
    # Severities in their order of gravity, not alphabetical.
    assert [s["severity"] for s in report["by_severity"]] == ["critical", "warning"]


def test_incidents_per_day_are_utc_days_with_zeros() -> None:
    period = Period(datetime(2026, 12, 1, 22, tzinfo=UTC), datetime(2026, 12, 4, 2, tzinfo=UTC))
    madrid_midnight = datetime(2026, 12, 2, 23, 30, tzinfo=UTC)  # 00:30 on the 3rd in Madrid
    rows = [
        incident(1, datetime(2026, 12, 1, 23, tzinfo=UTC)),
        incident(2, madrid_midnight),
        incident(3, datetime(2026, 12, 4, 1, tzinfo=UTC)),
        incident(4, datetime(2026, 12, 4, 1, 30, tzinfo=UTC)),
    ]
    assert per_day(rows, period) == [
        {"day": "2026-12-01", "incidents": 1},
        {"day": "2026-12-02", "incidents": 1},
        {"day": "2026-12-03", "incidents": 0},
        {"day": "2026-12-04", "incidents": 2},
    ]
    # An end on midnight does not add an empty day after it.
    whole = Period(datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 3, tzinfo=UTC))
    assert [d["day"] for d in per_day([], whole)] == ["2026-12-01", "2026-12-02"]


@given(
    st.lists(
        st.datetimes(min_value=datetime(2026, 11, 29, 14), max_value=datetime(2026, 12, 6, 13, 59)),
        max_size=50,
    )
)
def test_every_incident_lands_in_exactly_one_day(openings: list[datetime]) -> None:
    period = choose_period(NOW, days=7)
    rows = [incident(i, t.replace(tzinfo=UTC)) for i, t in enumerate(openings)]
    days = per_day(rows, period)
    assert sum(d["incidents"] for d in days) == len(rows)
    assert len(days) == 8  # 7 x 24h that start mid-day touch 8 UTC dates


def test_noisiest_ranks_occurrences_and_flaps() -> None:
    def alert(fp: str, occurrences: int, episodes: int = 1) -> dict[str, Any]:
        return {
            "fingerprint": fp,
            "title": f"alert {fp}",
            "service": "api",
            "source": "alertmanager",
            "severity": "warning",
            "occurrences": occurrences,
            "episodes": episodes,
            "incidents": 1,
        }

    alerts = [alert("a", 5), alert("b", 500), alert("c", 50, 3), alert("d", 1)]
    flaps = {"a": {"flaps": 4, "flagged": 1}, "c": {"flaps": 4, "flagged": 2}}
    ranked = noisiest(alerts, flaps, top=2)
    assert [r["fingerprint"] for r in ranked["by_occurrences"]] == ["b", "c"]
    assert [r["fingerprint"] for r in ranked["by_flaps"]] == ["c", "a"]
    assert ranked["by_flaps"][0] | {} == {
        **alert("c", 50, 3),
        "flaps": 4,
        "flagged_flapping": 2,
    }
