"""Silences: one-off and recurring windows, which silence mutes, and reminders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from routing.muting.silence import (
    Silence,
    SilenceState,
    expiring_soon,
    silence_active,
    silence_state,
    silencing,
)


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def _silence(**fields: Any) -> Silence:
    return Silence.model_validate({"matchers": ['service="api"'], **fields})


ONE_OFF = _silence(
    id="s1", starts_at="2026-06-01T10:00:00Z", ends_at="2026-06-01T12:00:00Z", created_by="alice"
)
# Sundays 02:00-04:00 Madrid, and weeknights 22:00-02:00 (crossing midnight), forever.
SUNDAY = _silence(
    id="sun",
    recurrence={"weekdays": ["sunday"], "times": ["02:00-04:00"], "time_zone": "Europe/Madrid"},
)
NIGHTS = _silence(id="nights", recurrence={"weekdays": ["monday:friday"], "times": ["22:00-02:00"]})
BOUNDED = _silence(
    id="bounded",
    starts_at="2026-06-01T00:00:00Z",
    ends_at="2026-07-01T00:00:00Z",
    recurrence={"weekdays": ["sat-sun"]},
)


@pytest.mark.parametrize(
    ("silence", "instant", "active"),
    [
        (ONE_OFF, _utc(2026, 6, 1, 9, 59), False),
        (ONE_OFF, _utc(2026, 6, 1, 10), True),
        (ONE_OFF, _utc(2026, 6, 1, 11, 59), True),
        (ONE_OFF, _utc(2026, 6, 1, 12), False),  # ends_at is exclusive
        (SUNDAY, _utc(2026, 6, 7, 0, 0), True),  # Sunday 02:00 CEST
        (SUNDAY, _utc(2026, 6, 7, 1, 59), True),
        (SUNDAY, _utc(2026, 6, 7, 2, 0), False),
        (SUNDAY, _utc(2026, 1, 4, 1, 0), True),  # winter: 02:00 CET
        (SUNDAY, _utc(2026, 6, 8, 0, 30), False),  # Monday
        (NIGHTS, _utc(2026, 6, 5, 23), True),  # Friday 23:00 UTC
        (NIGHTS, _utc(2026, 6, 6, 1, 59), True),  # Saturday 01:59, Friday's night
        (NIGHTS, _utc(2026, 6, 6, 23), False),  # Saturday night
        (NIGHTS, _utc(2026, 6, 8, 1), False),  # Monday 01:00: Sunday had no window
        (BOUNDED, _utc(2026, 6, 6, 12), True),  # Saturday in June
        (BOUNDED, _utc(2026, 6, 8, 12), False),  # Monday
        (BOUNDED, _utc(2026, 7, 4, 12), False),  # Saturday after ends_at
    ],
)
def test_silence_active(silence: Silence, instant: datetime, active: bool) -> None:
    assert silence_active(silence, instant) is active


def test_state() -> None:
    assert silence_state(ONE_OFF, _utc(2026, 6, 1)) is SilenceState.PENDING
    assert silence_state(ONE_OFF, _utc(2026, 6, 1, 11)) is SilenceState.ACTIVE
    assert silence_state(ONE_OFF, _utc(2026, 6, 1, 12)) is SilenceState.EXPIRED
    assert silence_state(SUNDAY, _utc(2030, 1, 1)) is SilenceState.ACTIVE


def test_silencing_picks_the_first_matching_active_silence() -> None:
    other = _silence(
        id="other",
        matchers=['service=~"api|web"', 'env!="staging"'],
        starts_at="2026-06-01T00:00:00Z",
        ends_at="2026-06-02T00:00:00Z",
    )
    silences = [ONE_OFF, other]
    at = _utc(2026, 6, 1, 11)
    assert silencing(silences, {"service": "api"}, at) is ONE_OFF
    assert silencing(silences, {"service": "web"}, at) is other
    assert silencing(silences, {"service": "web", "env": "staging"}, at) is None
    assert silencing(silences, {"service": "api"}, _utc(2026, 6, 1, 13)) is other
    assert silencing(silences, {"service": "db"}, at) is None


def test_expiring_soon() -> None:
    later = _silence(id="later", starts_at="2026-06-01T00:00:00Z", ends_at="2026-06-01T11:30:00Z")
    pending = _silence(
        id="pending", starts_at="2026-06-01T11:10:00Z", ends_at="2026-06-01T11:20:00Z"
    )
    silences = [ONE_OFF, later, SUNDAY, pending]
    now = _utc(2026, 6, 1, 11)
    assert [s.id for s in expiring_soon(silences, now, timedelta(hours=1))] == ["later", "s1"]
    assert [s.id for s in expiring_soon(silences, now, timedelta(minutes=30))] == ["later"]
    assert expiring_soon(silences, _utc(2026, 6, 1, 12), timedelta(hours=1)) == []


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"starts_at": "2026-06-01T10:00:00Z"}, "needs both starts_at and ends_at"),
        (
            {"starts_at": "2026-06-01T10:00:00Z", "ends_at": "2026-06-01T09:00:00Z"},
            "after starts_at",
        ),
        ({"starts_at": "2026-06-01T10:00:00", "ends_at": "2026-06-01T11:00:00Z"}, "timezone"),
        ({"matchers": ['service=~".*"'], "recurrence": {}}, "silence everything"),
        ({"matchers": [], "recurrence": {}}, "silence everything"),
        ({"matchers": ['service=~"["'], "recurrence": {}}, "invalid regex"),
        ({"recurrence": {"weekdays": ["caturday"]}}, "unknown weekday"),
        ({"recurrence": {"times": ["2am-4am"]}}, "invalid time"),
        ({"recurrence": {"time_zone": "Nowhere/Land"}}, "unknown time zone"),
        ({"recurrence": {}, "until": "x"}, "Extra inputs"),
    ],
)
def test_validation(fields: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        _silence(**fields)
