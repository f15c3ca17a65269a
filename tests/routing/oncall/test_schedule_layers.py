"""Schedule layers: restrictions, stacked layers and overrides deciding who is on call."""

from __future__ import annotations

from datetime import datetime

from routing.oncall.schedule import Shift, next_handoffs, oncall_at
from tests.routing.oncall.schedule_support import EXAMPLE, _schedule, _utc, _who


def test_restriction_crossing_midnight() -> None:
    schedule = _schedule(
        "America/New_York",
        {"rotation": "daily", "handoff": "09:00", "members": ["day"]},
        {
            "rotation": "daily",
            "handoff": "18:00",
            "members": ["night"],
            "restrict": ["mon-fri 18:00-09:00"],
        },
    )
    local = [  # (New York local time in January, EST = UTC-5, expected)
        (datetime(2026, 1, 9, 17, 59), "day"),  # Friday
        (datetime(2026, 1, 9, 18, 0), "night"),
        (datetime(2026, 1, 10, 8, 59), "night"),  # Saturday morning: Friday's window
        (datetime(2026, 1, 10, 9, 0), "day"),
        (datetime(2026, 1, 10, 18, 0), "day"),  # Saturday evening: no window opens
        (datetime(2026, 1, 12, 8, 0), "day"),  # Monday morning: Sunday had no window
        (datetime(2026, 1, 12, 18, 0), "night"),
    ]
    for wall, expected in local:
        assert oncall_at(schedule, wall.replace(tzinfo=schedule.time_zone)) == [expected], wall


def test_daily_restriction_without_weekdays_and_gaps() -> None:
    office_only = _schedule(
        "UTC", {"rotation": "daily", "members": ["a"], "restrict": ["09:00-17:00"]}
    )
    assert _who(office_only, 2026, 1, 3, 9) == ["a"]  # every day, weekends included
    assert _who(office_only, 2026, 1, 3, 17) == []  # nobody outside the restriction
    assert next_handoffs(office_only, _utc(2026, 1, 3, 12), 2) == [
        Shift(_utc(2026, 1, 3, 17), None),
        Shift(_utc(2026, 1, 4, 9), "a"),
    ]


def test_issue_example() -> None:
    # Weekly alice/bob from the 2024-01-01 epoch: bob has the week of 2026-12-21.
    assert _who(EXAMPLE, 2026, 12, 21, 8) == ["bob"]  # Monday 09:00 CET
    assert _who(EXAMPLE, 2026, 12, 21, 7, 59) == ["alice"]
    assert _who(EXAMPLE, 2026, 12, 19, 8) == ["carol"]  # Saturday 09:00: the weekend layer wins
    assert _who(EXAMPLE, 2026, 12, 19, 20) == ["alice"]  # Saturday 21:00: back to the weekly layer
    # The override: 2026-12-24 18:00 to 2026-12-26 09:00 Madrid (CET, UTC+1).
    assert _who(EXAMPLE, 2026, 12, 24, 16, 59) == ["bob"]
    assert _who(EXAMPLE, 2026, 12, 24, 17) == ["carol"]
    assert _who(EXAMPLE, 2026, 12, 25, 12) == ["carol"]
    assert next_handoffs(EXAMPLE, _utc(2026, 12, 24, 12), 3) == [
        Shift(_utc(2026, 12, 24, 17), "carol"),
        Shift(_utc(2026, 12, 26, 20), "bob"),  # Saturday 21:00 local, after the weekend layer
        Shift(_utc(2026, 12, 27, 8), "carol"),
    ]


def test_override_with_offset_and_latest_wins() -> None:
    schedule = _schedule(
        "Europe/Madrid",
        {"rotation": "daily", "members": ["a"]},
        overrides=[
            {"user": "b", "start": "2026-06-01T00:00+00:00", "end": "2026-06-02T00:00+00:00"},
            {
                "user": "c",
                "start": "2026-06-01T12:00",
                "end": "2026-06-01T13:00",
            },  # local: 10:00 UTC
        ],
    )
    assert _who(schedule, 2026, 5, 31, 23, 59) == ["a"]
    assert _who(schedule, 2026, 6, 1, 0) == ["b"]
    assert _who(schedule, 2026, 6, 1, 10) == ["c"]
    assert _who(schedule, 2026, 6, 1, 11) == ["b"]
    assert _who(schedule, 2026, 6, 2) == ["a"]
