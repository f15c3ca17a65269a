"""A recurring silence's true state: active only inside a window (until its end), else
pending until its next window; and each window's end is reminded of like a one-off end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.muting.silence import (
    Silence,
    SilenceState,
    SilenceStatus,
    expiring_soon,
    recurrence_problem,
    silence_active,
    silence_status,
)


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def _silence(**fields: Any) -> Silence:
    return Silence.model_validate({"id": "r", "matchers": ['service="api"'], **fields})


SUNDAY_MADRID = _silence(
    recurrence={"weekdays": ["sunday"], "times": ["02:00-04:00"], "time_zone": "Europe/Madrid"}
)
NIGHTS = _silence(recurrence={"weekdays": ["monday:friday"], "times": ["22:00-02:00"]})
# Two windows that touch: one window in effect, 22:00 Saturday to 06:00 Sunday... Monday.
WEEKEND = _silence(recurrence={"weekdays": ["sat-sun"]})
ALWAYS = _silence(recurrence={})


@pytest.mark.parametrize(
    ("silence", "now", "expected"),
    [
        # Monday 2026-06-01: the Sunday window is six days away (02:00 CEST = 00:00 UTC).
        (
            SUNDAY_MADRID,
            _utc(2026, 6, 1, 12),
            SilenceStatus(SilenceState.PENDING, next_window_at=_utc(2026, 6, 7, 0)),
        ),
        (
            SUNDAY_MADRID,
            _utc(2026, 6, 7, 1),
            SilenceStatus(SilenceState.ACTIVE, window_ends_at=_utc(2026, 6, 7, 2)),
        ),
        # Winter: 02:00 CET is 01:00 UTC.
        (
            SUNDAY_MADRID,
            _utc(2026, 1, 2, 12),
            SilenceStatus(SilenceState.PENDING, next_window_at=_utc(2026, 1, 4, 1)),
        ),
        # Friday 23:00: the night crosses midnight and ends Saturday 02:00.
        (
            NIGHTS,
            _utc(2026, 6, 5, 23),
            SilenceStatus(SilenceState.ACTIVE, window_ends_at=_utc(2026, 6, 6, 2)),
        ),
        (
            NIGHTS,
            _utc(2026, 6, 6, 3),
            SilenceStatus(SilenceState.PENDING, next_window_at=_utc(2026, 6, 8, 22)),
        ),
        # Saturday and Sunday are one window that ends Monday 00:00.
        (
            WEEKEND,
            _utc(2026, 6, 6, 9),
            SilenceStatus(SilenceState.ACTIVE, window_ends_at=_utc(2026, 6, 8, 0)),
        ),
        # Every day, all day: in force with no window end in sight.
        (ALWAYS, _utc(2026, 6, 6, 9), SilenceStatus(SilenceState.ACTIVE)),
    ],
)
def test_status(silence: Silence, now: datetime, expected: SilenceStatus) -> None:
    assert silence_status(silence, now) == expected


def test_bounds_cut_the_windows() -> None:
    bounded = _silence(
        starts_at="2026-06-03T00:00:00Z",
        ends_at="2026-06-06T01:00:00Z",
        recurrence={"weekdays": ["monday:friday"], "times": ["22:00-02:00"]},
    )
    # Before starts_at: the first window after it, not Monday's.
    assert silence_status(bounded, _utc(2026, 6, 1, 23)) == SilenceStatus(
        SilenceState.PENDING, next_window_at=_utc(2026, 6, 3, 0)
    )  # Tuesday's night is still open at Wednesday 00:00
    # Friday's night is cut at ends_at.
    assert silence_status(bounded, _utc(2026, 6, 5, 23)) == SilenceStatus(
        SilenceState.ACTIVE, window_ends_at=_utc(2026, 6, 6, 1)
    )
    # No window left before its end.
    assert silence_status(bounded, _utc(2026, 6, 6, 1)).state is SilenceState.EXPIRED


def test_a_recurrence_that_never_opens_before_its_end_is_refused() -> None:
    assert SUNDAY_MADRID.recurrence is not None
    problem = recurrence_problem(SUNDAY_MADRID.recurrence, _utc(2026, 6, 1), _utc(2026, 6, 3))
    assert problem is not None
    assert "every sunday 02:00-04:00 (Europe/Madrid): no window opens" in problem
    assert recurrence_problem(SUNDAY_MADRID.recurrence, _utc(2026, 6, 1), None) is None


def test_each_window_end_is_reminded_of() -> None:
    due = expiring_soon([SUNDAY_MADRID], _utc(2026, 6, 7, 1, 50), timedelta(minutes=15))
    assert [(s.id, s.ends_at) for s in due] == [("r", _utc(2026, 6, 7, 2))]
    assert expiring_soon([SUNDAY_MADRID], _utc(2026, 6, 7, 1, 30), timedelta(minutes=15)) == []
    assert expiring_soon([SUNDAY_MADRID], _utc(2026, 6, 8, 1, 50), timedelta(minutes=15)) == []
    # The next week: the next window's end.
    later = expiring_soon([SUNDAY_MADRID], _utc(2026, 6, 14, 1, 50), timedelta(minutes=15))
    assert [s.ends_at for s in later] == [_utc(2026, 6, 14, 2)]


DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
ZONES = ["UTC", "Europe/Madrid", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]


@st.composite
def recurrences(draw: st.DrawFn) -> dict[str, Any]:
    days = draw(st.lists(st.sampled_from(DAYS), max_size=3, unique=True))
    times = [
        f"{draw(st.integers(0, 23)):02d}:{draw(st.sampled_from([0, 15, 30, 45])):02d}-"
        f"{draw(st.integers(0, 23)):02d}:{draw(st.sampled_from([0, 30])):02d}"
        for _ in range(draw(st.integers(0, 2)))
    ]
    return {"weekdays": days, "times": times, "time_zone": draw(st.sampled_from(ZONES))}


@settings(max_examples=200, deadline=None)
@given(
    recurrence=recurrences(),
    now=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    ),
)
def test_status_agrees_with_what_mutes(recurrence: dict[str, Any], now: datetime) -> None:
    """Active exactly when the silence mutes; a window end is the first instant it stops
    muting; a next window is the first instant it mutes again (minute resolution)."""
    silence = _silence(recurrence=recurrence)
    status = silence_status(silence, now)
    assert (status.state is SilenceState.ACTIVE) is silence_active(silence, now)
    minute = timedelta(minutes=1)
    if status.state is SilenceState.ACTIVE and status.window_ends_at is not None:
        end = status.window_ends_at
        assert end > now
        assert not silence_active(silence, end)
        assert silence_active(silence, max(now, end - minute))
    if status.state is SilenceState.PENDING:
        start = status.next_window_at
        assert start is not None and start > now
        assert silence_active(silence, start)
        assert not silence_active(silence, max(now, start - minute))
