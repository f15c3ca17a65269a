"""Schedule property tests: random schedules have one person on call and consistent hand-offs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from routing.oncall.schedule import Schedule, next_handoffs, oncall_at
from tests.routing.oncall.schedule_support import _schedule

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
