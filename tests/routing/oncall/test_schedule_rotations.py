"""Schedule rotations: hourly, daily, weekly and custom hand-offs, across DST."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest

from routing.oncall.schedule import Shift, next_handoffs, oncall_at
from tests.routing.oncall.schedule_support import _schedule, _utc, _who


# Daily 09:00 hand-offs, members a, b, c counted from 2026-03-01 (a on that day).
@pytest.mark.parametrize(
    ("zone", "day_before", "day_of", "handoff_before_utc", "handoff_of_utc"),
    [
        ("Europe/Madrid", date(2026, 3, 28), date(2026, 3, 29), 8, 7),  # CET -> CEST
        ("Europe/Madrid", date(2026, 10, 24), date(2026, 10, 25), 7, 8),  # CEST -> CET
        ("America/New_York", date(2026, 3, 7), date(2026, 3, 8), 14, 13),  # EST -> EDT
        ("America/New_York", date(2026, 10, 31), date(2026, 11, 1), 13, 14),  # EDT -> EST
    ],
)
def test_daily_handoff_stays_at_local_nine_across_dst(
    zone: str, day_before: date, day_of: date, handoff_before_utc: int, handoff_of_utc: int
) -> None:
    schedule = _schedule(
        zone,
        {
            "rotation": "daily",
            "handoff": "09:00",
            "members": ["a", "b", "c"],
            "start": "2026-03-01",
        },
    )
    members = ["a", "b", "c"]
    before = datetime.combine(day_before, datetime.min.time(), UTC).replace(hour=handoff_before_utc)
    of = datetime.combine(day_of, datetime.min.time(), UTC).replace(hour=handoff_of_utc)
    turn = (day_before - date(2026, 3, 1)).days
    assert oncall_at(schedule, before - timedelta(seconds=1)) == [members[(turn - 1) % 3]]
    assert oncall_at(schedule, before) == [members[turn % 3]]
    assert oncall_at(schedule, of - timedelta(seconds=1)) == [members[turn % 3]]
    assert oncall_at(schedule, of) == [members[(turn + 1) % 3]]
    shifts = next_handoffs(schedule, before, 2)
    assert [shift.at for shift in shifts] == [of, of + timedelta(days=1)]
    assert all(shift.at.astimezone(schedule.time_zone).hour == 9 for shift in shifts)


def test_weekly_handoff_across_spring_forward() -> None:
    # Madrid: Monday 2026-03-23 09:00 is 08:00 UTC, Monday 2026-03-30 09:00 is 07:00 UTC.
    schedule = _schedule(
        "Europe/Madrid", {"rotation": "weekly", "handoff": "mon 09:00", "members": ["x", "y"]}
    )
    first = oncall_at(schedule, _utc(2026, 3, 23, 8))
    assert _who(schedule, 2026, 3, 23, 7, 59) != first
    assert _who(schedule, 2026, 3, 30, 6, 59) == first  # still 08:59 local
    assert _who(schedule, 2026, 3, 30, 7) != first
    assert next_handoffs(schedule, _utc(2026, 3, 23, 8), 1) == [
        Shift(_utc(2026, 3, 30, 7), "y" if first == ["x"] else "x")
    ]


def test_handoff_inside_dst_gap_and_fold_is_monotonic() -> None:
    # 02:30 does not exist on 2026-03-29 in Madrid (the hand-off happens at 03:00 CEST) and
    # exists twice on 2026-10-25 (the first one counts; no hand-back during the repeat).
    gap = _schedule(
        "Europe/Madrid", {"rotation": "daily", "handoff": "02:30", "members": ["a", "b"]}
    )
    shifts = next_handoffs(gap, _utc(2026, 3, 28), 3)
    assert [shift.at for shift in shifts] == [
        _utc(2026, 3, 28, 1, 30),
        _utc(2026, 3, 29, 1),
        _utc(2026, 3, 30, 0, 30),
    ]
    after = next_handoffs(gap, _utc(2026, 10, 24, 12), 2)
    assert [shift.at for shift in after] == [_utc(2026, 10, 25, 0, 30), _utc(2026, 10, 26, 1, 30)]
    # During the repeated hour (02:00-03:00 CET = 01:00-02:00 UTC) the new person stays on.
    assert _who(gap, 2026, 10, 25, 1, 15) == _who(gap, 2026, 10, 25, 0, 30) == [after[0].user]


def test_hourly_follows_local_minute_and_real_hours() -> None:
    madrid = _schedule(
        "Europe/Madrid", {"rotation": "hourly", "handoff": ":30", "members": ["a", "b"]}
    )
    shifts = next_handoffs(madrid, _utc(2026, 3, 28, 23), 6)
    assert [b.at - a.at for a, b in itertools.pairwise(shifts)] == [timedelta(hours=1)] * 5
    assert {shift.at.astimezone(madrid.time_zone).minute for shift in shifts} == {30}
    kolkata = _schedule(
        "Asia/Kolkata", {"rotation": "hourly", "handoff": "00:00", "members": ["a", "b"]}
    )
    assert {shift.at.minute for shift in next_handoffs(kolkata, _utc(2026, 1, 1), 4)} == {
        30
    }  # UTC+05:30


def test_custom_lengths() -> None:
    every_36h = _schedule(
        "UTC",
        {"rotation": "custom", "length": "36h", "members": ["a", "b", "c"], "start": "2026-01-01"},
    )
    assert _who(every_36h, 2026, 1, 1, 9) == ["a"]  # default hand-off 09:00 on the start date
    assert _who(every_36h, 2026, 1, 2, 20, 59) == ["a"]
    assert _who(every_36h, 2026, 1, 2, 21) == ["b"]
    assert _who(every_36h, 2026, 1, 4, 9) == ["c"]
    assert _who(every_36h, 2026, 1, 5, 21) == ["a"]
    assert _who(every_36h, 2026, 1, 1, 8, 59) == [
        "c"
    ]  # before the start the rotation runs backwards

    two_days = _schedule(
        "Europe/Madrid",
        {
            "rotation": "custom",
            "length": "2d",
            "handoff": "09:00",
            "members": ["a", "b"],
            "start": "2026-03-27",
        },
    )
    # Whole-day lengths count local dates: 09:00 local on 27th (08:00 UTC), 29th (07:00 UTC).
    assert [s.at for s in next_handoffs(two_days, _utc(2026, 3, 27, 7), 2)] == [
        _utc(2026, 3, 27, 8),
        _utc(2026, 3, 29, 7),
    ]

    fortnight = _schedule(
        "UTC",
        {
            "rotation": "custom",
            "length": "14d",
            "handoff": "wed 10:00",
            "members": ["a", "b"],
            "start": "2026-01-01",
        },
    )
    # Counted from the first Wednesday on or after the start: 2026-01-07.
    assert _who(fortnight, 2026, 1, 7, 10) == ["a"]
    assert _who(fortnight, 2026, 1, 21, 9, 59) == ["a"]
    assert _who(fortnight, 2026, 1, 21, 10) == ["b"]


def test_matches_a_minute_by_minute_scan_across_dst() -> None:
    """next_handoffs lists exactly the minutes at which oncall_at changes."""
    schedule = _schedule(
        "Europe/Madrid",
        {"rotation": "weekly", "handoff": "mon 09:00", "members": ["alice", "bob"]},
        {
            "rotation": "daily",
            "handoff": "02:30",
            "members": ["carol", "dave"],
            "restrict": ["sat-sun 01:00-21:00"],
        },
        {
            "rotation": "hourly",
            "handoff": ":15",
            "members": ["erin"],
            "restrict": ["mon 08:00-08:45"],
        },
        overrides=[{"user": "frank", "start": "2026-03-29T03:10", "end": "2026-03-29T03:40"}],
    )
    start, end = _utc(2026, 3, 27, 12), _utc(2026, 3, 30, 12)
    changes = []
    previous = oncall_at(schedule, start)
    instant = start
    while instant < end:
        instant += timedelta(minutes=1)
        now = oncall_at(schedule, instant)
        if now != previous:
            changes.append(Shift(instant, now[0] if now else None))
            previous = now
    listed = [shift for shift in next_handoffs(schedule, start, 100) if shift.at <= end]
    assert listed == changes
    assert len(changes) >= 8
