"""Alertmanager time intervals: weekdays, times, days of month, months, years, location."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from routing.muting.time_interval import TimeInterval, interval_contains


def _interval(**fields: Any) -> TimeInterval:
    return TimeInterval.model_validate({"name": "t", **fields})


BUSINESS = {"weekdays": ["monday:friday"], "times": ["09:00-18:00"], "location": "Europe/Madrid"}


@pytest.mark.parametrize(
    ("fields", "instant", "expected"),
    [
        # 2026-06-01 is a Monday; Madrid is UTC+2 in summer.
        (BUSINESS, datetime(2026, 6, 1, 7, 0), True),
        (BUSINESS, datetime(2026, 6, 1, 6, 59), False),
        (BUSINESS, datetime(2026, 6, 1, 15, 59), True),
        (BUSINESS, datetime(2026, 6, 1, 16, 0), False),  # 18:00 local: end is exclusive
        (BUSINESS, datetime(2026, 6, 6, 10, 0), False),  # Saturday
        (BUSINESS, datetime(2026, 1, 5, 8, 0), True),  # winter: UTC+1, 09:00 local
        (BUSINESS, datetime(2026, 1, 5, 7, 59), False),
        ({"weekdays": ["saturday", "sunday"]}, datetime(2026, 6, 7, 23, 59), True),
        ({"weekdays": ["Sat:Sun"]}, datetime(2026, 6, 8, 0, 0), False),
        ({"times": ["00:00-24:00"]}, datetime(2026, 6, 8, 23, 59), True),
        ({"days_of_month": ["1:7"]}, datetime(2026, 6, 7, 12), True),
        ({"days_of_month": ["1:7"]}, datetime(2026, 6, 8, 12), False),
        ({"days_of_month": ["-1"]}, datetime(2026, 2, 28, 12), True),  # last day of February
        ({"days_of_month": ["-1"]}, datetime(2026, 3, 30, 12), False),
        ({"days_of_month": ["-3:-1"]}, datetime(2026, 4, 28, 0), True),
        ({"days_of_month": ["-3:-1"]}, datetime(2026, 4, 27, 23, 59), False),
        ({"days_of_month": ["1:-1"]}, datetime(2026, 4, 30, 0), True),
        ({"days_of_month": ["31"]}, datetime(2026, 4, 30, 0), False),  # April has no 31st
        ({"days_of_month": ["25:31"]}, datetime(2026, 2, 28, 0), True),  # clamped to month end
        ({"months": ["january:march"]}, datetime(2026, 3, 31, 23), True),
        ({"months": ["1:3", "dec"]}, datetime(2026, 12, 1), True),
        ({"months": ["1:3"]}, datetime(2026, 4, 1), False),
        ({"years": ["2026:2027"]}, datetime(2027, 12, 31, 23), True),
        ({"years": ["2026"]}, datetime(2025, 12, 31, 23), False),
        ({}, datetime(2026, 1, 1), True),  # an empty interval always matches
        (
            {"time_intervals": [{"weekdays": ["sunday"]}, {"times": ["22:00-24:00"]}]},
            datetime(2026, 6, 1, 22, 30),
            True,
        ),
        (
            {"time_intervals": [{"weekdays": ["sunday"]}, {"times": ["22:00-24:00"]}]},
            datetime(2026, 6, 1, 21, 30),
            False,
        ),
        (
            {"times": [{"start_time": "09:00", "end_time": "10:00"}]},
            datetime(2026, 1, 1, 9, 30),
            True,
        ),
    ],
)
def test_contains_table(fields: dict[str, Any], instant: datetime, expected: bool) -> None:
    assert interval_contains(_interval(**fields), instant.replace(tzinfo=UTC)) is expected


def test_location_follows_dst() -> None:
    # New York 09:00-10:00, on both sides of 2026-03-08.
    interval = _interval(times=["09:00-10:00"], location="America/New_York")
    assert interval_contains(interval, datetime(2026, 3, 7, 14, 0, tzinfo=UTC))  # EST, UTC-5
    assert not interval_contains(interval, datetime(2026, 3, 9, 14, 0, tzinfo=UTC))
    assert interval_contains(interval, datetime(2026, 3, 9, 13, 0, tzinfo=UTC))  # EDT, UTC-4


@pytest.mark.parametrize(
    ("fields", "error", "loc"),
    [
        ({"weekdays": ["friday:monday"]}, "runs backwards", "weekdays"),
        ({"weekdays": ["funday"]}, "unknown weekday", "weekdays"),
        ({"times": ["18:00-09:00"]}, "crossing midnight", "times"),
        ({"times": ["9am-5pm"]}, "invalid time", "times"),
        ({"times": ["24:00-24:00"]}, "invalid time", "times"),
        ({"days_of_month": ["0"]}, "must be 1..31", "days_of_month"),
        ({"days_of_month": ["-1:1"]}, "runs backwards", "days_of_month"),
        ({"days_of_month": ["32"]}, "must be 1..31", "days_of_month"),
        ({"months": ["march:january"]}, "runs backwards", "months"),
        ({"months": ["smarch"]}, "unknown month", "months"),
        ({"years": ["2027:2026"]}, "must be positive", "years"),
        ({"location": "Mars/Olympus"}, "unknown time zone", "location"),
        ({"location": "Local"}, "unknown time zone", "location"),
        ({"weekdays": ["monday"], "time_intervals": [{}]}, "not both", ""),
        ({"weekday": ["monday"]}, "Extra inputs", "weekday"),
    ],
)
def test_validation_errors(fields: dict[str, Any], error: str, loc: str) -> None:
    with pytest.raises(ValidationError, match=error) as info:
        _interval(**fields)
    assert ".".join(str(part) for part in info.value.errors()[0]["loc"]) == loc


def test_dumps_as_written() -> None:
    interval = _interval(**BUSINESS)
    assert interval.model_dump(mode="json", exclude_defaults=True) == {"name": "t", **BUSINESS}
    assert TimeInterval.model_validate(interval.model_dump(mode="json")) == interval
