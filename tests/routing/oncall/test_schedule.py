"""On-call schedules: rotations across DST, restrictions, overrides, and hand-off listing."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from routing.oncall.schedule import Schedule, Shift, next_handoffs, oncall_at


def _schedule(
    time_zone: str, *layers: dict[str, Any], overrides: list[dict[str, Any]] | None = None
) -> Schedule:
    return Schedule.model_validate(
        {"name": "s", "time_zone": time_zone, "layers": list(layers), "overrides": overrides or []}
    )


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def _who(
    schedule: Schedule, year: int, month: int, day: int, hour: int = 0, minute: int = 0
) -> list[str]:
    return oncall_at(schedule, _utc(year, month, day, hour, minute))


EXAMPLE = _schedule(
    "Europe/Madrid",
    {"rotation": "weekly", "handoff": "mon 09:00", "members": ["alice", "bob"]},
    {
        "rotation": "daily",
        "handoff": "09:00",
        "members": ["carol"],
        "restrict": ["sat-sun 09:00-21:00"],
    },
    overrides=[{"user": "carol", "start": "2026-12-24T18:00", "end": "2026-12-26T09:00"}],
)


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


@pytest.mark.parametrize(
    ("layer", "error"),
    [
        ({"rotation": "weekly", "handoff": "09:00", "members": ["a"]}, "needs a weekday"),
        ({"rotation": "daily", "handoff": "mon 09:00", "members": ["a"]}, "takes no weekday"),
        ({"rotation": "hourly", "handoff": "01:30", "members": ["a"]}, "only minutes"),
        ({"rotation": "daily", "handoff": "9am", "members": ["a"]}, "invalid handoff"),
        ({"rotation": "daily", "handoff": "25:00", "members": ["a"]}, "invalid time"),
        ({"rotation": "custom", "members": ["a"]}, "`length` is required"),
        ({"rotation": "daily", "length": "2d", "members": ["a"]}, "not allowed otherwise"),
        (
            {"rotation": "custom", "length": "36h", "handoff": "mon 09:00", "members": ["a"]},
            "whole days",
        ),
        ({"rotation": "custom", "length": "0s", "members": ["a"]}, "must be positive"),
        ({"rotation": "monthly", "members": ["a"]}, "rotation"),
        ({"rotation": "daily", "members": []}, "at least 1 item"),
        ({"rotation": "daily", "members": ["a"], "restrict": ["weekends"]}, "invalid restriction"),
        (
            {"rotation": "daily", "members": ["a"], "restrict": ["sat-sun 09:00"]},
            "invalid restriction",
        ),
        (
            {"rotation": "daily", "members": ["a"], "restrict": ["funday 09:00-10:00"]},
            "unknown weekday",
        ),
    ],
)
def test_layer_validation(layer: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        _schedule("UTC", layer)


def test_schedule_validation() -> None:
    with pytest.raises(ValidationError, match="unknown time zone"):
        _schedule("Europe/Atlantis", {"rotation": "daily", "members": ["a"]})
    with pytest.raises(ValidationError, match="end must be after start"):
        _schedule(
            "UTC",
            {"rotation": "daily", "members": ["a"]},
            overrides=[{"user": "a", "start": "2026-01-02", "end": "2026-01-01"}],
        )
    with pytest.raises(ValidationError, match="at least 1 item"):
        _schedule("UTC")
    with pytest.raises(ValueError, match="timezone-aware"):
        oncall_at(EXAMPLE, datetime(2026, 1, 1))


# Property tests: random schedules with at least one unrestricted layer.
ZONES = ["UTC", "Europe/Madrid", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]
MEMBERS = st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=3)
CLOCK = st.builds(
    lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 15, 30, 45])
)
DAYS = st.sampled_from(["mon", "sat-sun", "mon-fri", "fri-mon", "wed,fri"])
RESTRICTION = st.builds(lambda d, a, b: f"{d} {a}-{b}", DAYS, CLOCK, CLOCK)
START = st.none() | st.dates(date(2020, 1, 1), date(2030, 1, 1)).map(str)


@st.composite
def layers(draw: st.DrawFn, restricted: bool) -> dict[str, Any]:
    rotation = draw(st.sampled_from(["hourly", "daily", "weekly", "custom"]))
    layer: dict[str, Any] = {"rotation": rotation, "members": draw(MEMBERS), "start": draw(START)}
    clock = draw(CLOCK)
    if rotation == "hourly":
        layer["handoff"] = ":" + clock[3:]
    elif rotation == "weekly":
        layer["handoff"] = draw(st.sampled_from(["mon", "thu", "sun"])) + " " + clock
    else:
        layer["handoff"] = clock
    if rotation == "custom":
        layer["length"] = draw(st.sampled_from(["36h", "2d", "90m", "7d", "3h"]))
    if restricted:
        layer["restrict"] = draw(st.lists(RESTRICTION, min_size=1, max_size=2))
    return layer


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    stack = [draw(layers(restricted=False))]
    for _ in range(draw(st.integers(0, 2))):
        stack.insert(draw(st.integers(0, len(stack))), draw(layers(restricted=draw(st.booleans()))))
    overrides = []
    for _ in range(draw(st.integers(0, 2))):
        begin = draw(st.datetimes(datetime(2025, 1, 1), datetime(2027, 1, 1))).replace(
            second=0, microsecond=0
        )
        hours = draw(st.integers(1, 72))
        overrides.append(
            {
                "user": "o",
                "start": begin.isoformat(),
                "end": (begin + timedelta(hours=hours)).isoformat(),
            }
        )
    return _schedule(draw(st.sampled_from(ZONES)), *stack, overrides=overrides)


INSTANTS = st.datetimes(datetime(2024, 1, 1), datetime(2028, 1, 1), timezones=st.just(UTC))


@settings(max_examples=200, deadline=None)
@given(schedules(), INSTANTS)
def test_exactly_one_person_and_deterministic(schedule: Schedule, instant: datetime) -> None:
    who = oncall_at(schedule, instant)
    assert len(who) == 1
    assert who[0] in schedule.members()
    rebuilt = Schedule.model_validate(schedule.model_dump(mode="json"))
    assert oncall_at(rebuilt, instant) == who


@settings(max_examples=100, deadline=None)
@given(schedules(), INSTANTS)
def test_handoffs_agree_with_oncall(schedule: Schedule, instant: datetime) -> None:
    shifts = next_handoffs(schedule, instant, 6, horizon=timedelta(days=40))
    previous = (instant, oncall_at(schedule, instant))
    for shift in shifts:
        assert shift.at > previous[0]
        assert shift.user is not None  # an unrestricted layer always has someone
        assert oncall_at(schedule, shift.at) == [shift.user]
        assert oncall_at(schedule, shift.at - timedelta(microseconds=1)) == previous[1]
        middle = previous[0] + (shift.at - previous[0]) / 2
        assert oncall_at(schedule, middle) == previous[1]
        previous = (shift.at, [shift.user])
