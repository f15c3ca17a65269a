"""On-call schedules: who is on call at an instant, and when that changes, as pure functions.

A schedule is a stack of rotation layers (later layers are higher and win while they
are active) under overrides (which beat every layer). Hand-offs are wall-clock times in
the schedule's zone: rotations count local calendar days, so a 09:00 hand-off stays at
09:00 local on both sides of a DST change. Only sub-day lengths (hourly, `custom` with
e.g. 36h) count elapsed time.
"""

from __future__ import annotations

import heapq
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from typing import Annotated, Any, Literal, NamedTuple
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
    model_validator,
)

from routing.basics.clock import (
    WEEKDAYS,
    WeeklyWindow,
    at_wall_time,
    clock_minutes,
    format_minutes,
    local_to_utc,
    weekday_number,
    weekday_set,
)
from routing.basics.field import Duration, TimeZone, refuse_unused_key
from routing.oncall.people import Name

# Rotations without `start` count from this fixed Monday, so results never depend on
# when the config was loaded.
EPOCH = date(2024, 1, 1)
DEFAULT_HORIZON = timedelta(days=366)
_DAY = timedelta(days=1)
_HANDOFF = re.compile(r"(?:(?P<day>[A-Za-z]+)\s+)?(?P<clock>\d{1,2}:\d{2}|:\d{2})")


@dataclass(frozen=True, slots=True)
class Handoff:
    """A hand-off time: minutes past local midnight, and a weekday for weekly rotations."""

    weekday: int | None
    minutes: int

    def __str__(self) -> str:
        clock = format_minutes(self.minutes)
        return clock if self.weekday is None else f"{WEEKDAYS[self.weekday][:3]} {clock}"


def _parse_handoff(value: Any) -> Handoff:
    if isinstance(value, Handoff):
        return value
    match = _HANDOFF.fullmatch(str(value).strip()) if isinstance(value, str) else None
    if not match:
        raise ValueError(f'invalid handoff {value!r} (expected "mon 09:00", "09:00" or ":30")')
    clock = match.group("clock")
    minutes = clock_minutes("00" + clock if clock.startswith(":") else clock)
    day = match.group("day")
    return Handoff(weekday_number(day) if day else None, minutes)


def _parse_restriction(value: Any) -> WeeklyWindow:
    """ "sat-sun 09:00-21:00", "mon-fri 18:00-09:00" (crosses midnight) or "09:00-17:00" daily."""
    if isinstance(value, WeeklyWindow):
        return value
    if not isinstance(value, str):
        raise ValueError(f'invalid restriction {value!r} (expected "sat-sun 09:00-21:00")')
    days_text, _, times = value.strip().rpartition(" ")
    start, sep, end = times.partition("-")
    if not sep:
        raise ValueError(f'invalid restriction {value!r} (expected "[days ]HH:MM-HH:MM")')
    days = weekday_set(days_text, "-") if days_text.strip() else frozenset(range(7))
    return WeeklyWindow(days, clock_minutes(start), clock_minutes(end, allow_24=True))


def _format_restriction(window: WeeklyWindow) -> str:
    clock = f"{format_minutes(window.start)}-{format_minutes(window.end)}"
    if len(window.days) == 7:
        return clock
    return ",".join(WEEKDAYS[day][:3] for day in sorted(window.days)) + " " + clock


HandoffField = Annotated[
    Handoff,
    PlainValidator(_parse_handoff),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["mon 09:00", "09:00", ":30"]}),
]
Restriction = Annotated[
    WeeklyWindow,
    PlainValidator(_parse_restriction),
    PlainSerializer(_format_restriction, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["sat-sun 09:00-21:00", "mon-fri 18:00-09:00"]}),
]

_DEFAULT_HANDOFF = {
    "weekly": Handoff(0, 9 * 60),
    "daily": Handoff(None, 9 * 60),
    "hourly": Handoff(None, 0),
    "custom": Handoff(None, 9 * 60),
}


class Layer(BaseModel):
    """One rotation: members take turns in order, handing off at `handoff` local time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rotation: Literal["hourly", "daily", "weekly", "custom"]
    members: list[str] = Field(min_length=1)
    handoff: HandoffField | None = None
    length: Duration | None = None  # custom rotations only
    start: date | None = None  # the date the rotation counts from (default EPOCH)
    restrict: list[Restriction] = []  # when set, the layer is active only inside these windows

    @model_validator(mode="before")
    @classmethod
    def _no_name_key(cls, data: Any) -> Any:
        return refuse_unused_key(
            data,
            "name",
            "a layer has no name firebell uses; write it as a YAML comment "
            "(- {rotation: weekly, members: [...]}  # weekday cover)",
        )

    @model_validator(mode="after")
    def _consistent(self) -> Layer:
        handoff = self.handoff
        if (self.length is not None) != (self.rotation == "custom"):
            raise ValueError("`length` is required for rotation: custom and not allowed otherwise")
        if self.length is not None and self.length <= timedelta(0):
            raise ValueError("`length` must be positive")
        if handoff is None:
            return self
        whole_days = self.length is not None and self.length % _DAY == timedelta(0)
        if self.rotation == "weekly" and handoff.weekday is None:
            raise ValueError(
                f'a weekly handoff needs a weekday, e.g. "mon {format_minutes(handoff.minutes)}"'
            )
        if handoff.weekday is not None and self.rotation not in ("weekly", "custom"):
            raise ValueError(
                f"a {self.rotation} handoff takes no weekday "
                f"(write {format_minutes(handoff.minutes)!r})"
            )
        if handoff.weekday is not None and not whole_days and self.rotation == "custom":
            raise ValueError("a handoff weekday needs a custom length in whole days")
        if self.rotation == "hourly" and handoff.minutes >= 60:
            raise ValueError(
                f'an hourly handoff gives only minutes, e.g. ":30", not {str(handoff)!r}'
            )
        return self

    @cached_property
    def cycle(self) -> Cycle:
        handoff = self.handoff or _DEFAULT_HANDOFF[self.rotation]
        anchor = self.start or EPOCH
        if handoff.weekday is not None:
            anchor += timedelta(days=(handoff.weekday - anchor.weekday()) % 7)
        if self.rotation == "hourly":
            return Cycle(anchor, handoff.minutes, days=None, length=timedelta(hours=1))
        if self.rotation == "custom":
            assert self.length is not None
            if self.length % _DAY == timedelta(0):
                return Cycle(anchor, handoff.minutes, days=self.length // _DAY, length=None)
            return Cycle(anchor, handoff.minutes, days=None, length=self.length)
        return Cycle(
            anchor, handoff.minutes, days=7 if self.rotation == "weekly" else 1, length=None
        )

    def active(self, local: datetime) -> bool:
        return not self.restrict or any(window.contains(local) for window in self.restrict)

    def member_at(self, instant: datetime, tz: ZoneInfo) -> str:
        return self.members[self.cycle.index_at(instant, tz) % len(self.members)]


@dataclass(frozen=True, slots=True)
class Cycle:
    """A layer's hand-off instants H(k), k = ..., -1, 0, 1, ...; turn k runs [H(k), H(k+1)).

    Whole-day cycles put H(k) at the same wall time every `days` local dates; sub-day
    cycles step `length` of elapsed time from the first hand-off.
    """

    anchor: date
    minutes: int
    days: int | None
    length: timedelta | None

    def handoff(self, k: int, tz: ZoneInfo) -> datetime:
        if self.days is not None:
            return at_wall_time(self.anchor + timedelta(days=k * self.days), self.minutes, tz)
        assert self.length is not None
        return at_wall_time(self.anchor, self.minutes, tz) + k * self.length

    def index_at(self, instant: datetime, tz: ZoneInfo) -> int:
        if self.days is None:
            assert self.length is not None
            return (instant - at_wall_time(self.anchor, self.minutes, tz)) // self.length
        # Guess from local dates, then settle on the last hand-off at or before the instant.
        guess = (instant.astimezone(tz).date() - self.anchor).days // self.days
        for k in (guess + 1, guess, guess - 1):
            if self.handoff(k, tz) <= instant:
                return k
        return guess - 2


class Override(BaseModel):
    """`user` is on call from `start` to `end`: schedule-local times, or with an offset."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    user: str
    start: datetime
    end: datetime

    def window(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        return _instant(self.start, tz), _instant(self.end, tz)


def _instant(value: datetime, tz: ZoneInfo) -> datetime:
    return local_to_utc(value, tz) if value.tzinfo is None else value.astimezone(UTC)


class Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    time_zone: TimeZone = ZoneInfo("UTC")
    layers: list[Layer] = Field(min_length=1)
    overrides: list[Override] = []

    @model_validator(mode="after")
    def _overrides_forward(self) -> Schedule:
        for index, override in enumerate(self.overrides):
            start, end = override.window(self.time_zone)
            if end <= start:
                raise ValueError(f"overrides[{index}]: end must be after start")
        return self

    @cached_property
    def override_windows(self) -> list[tuple[datetime, datetime, str]]:
        return [(*override.window(self.time_zone), override.user) for override in self.overrides]

    def members(self) -> set[str]:
        """Everyone this schedule can page."""
        return {m for layer in self.layers for m in layer.members} | {
            o.user for o in self.overrides
        }


class Shift(NamedTuple):
    """From `at` on, `user` is on call (None: nobody)."""

    at: datetime
    user: str | None


def _utc(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("schedule instants must be timezone-aware (UTC)")
    return instant.astimezone(UTC)


def oncall_at(schedule: Schedule, at_utc: datetime) -> list[str]:
    """Who is on call: the last override covering the instant, else the highest active layer."""
    instant = _utc(at_utc)
    for start, end, user in reversed(schedule.override_windows):
        if start <= instant < end:
            return [user]
    local = instant.astimezone(schedule.time_zone)
    for layer in reversed(schedule.layers):
        if layer.active(local):
            return [layer.member_at(instant, schedule.time_zone)]
    return []


def _layer_handoffs(layer: Layer, tz: ZoneInfo, after: datetime) -> Iterator[datetime]:
    cycle = layer.cycle
    for k in itertools.count(cycle.index_at(after, tz) + 1):
        yield cycle.handoff(k, tz)


def _window_edges(window: WeeklyWindow, tz: ZoneInfo, after: datetime) -> Iterator[datetime]:
    # Start a day early: a window opened yesterday may close after `after`.
    day = after.astimezone(tz).date() - _DAY
    while True:
        yield from window.boundaries(day, tz)
        day += _DAY


def _candidates(schedule: Schedule, after: datetime) -> Iterator[datetime]:
    """Every instant at which the on-call person might change, in order (with repeats)."""
    tz = schedule.time_zone
    streams: list[Iterator[datetime]] = [
        iter(sorted(edge for window in schedule.override_windows for edge in window[:2]))
    ]
    for layer in schedule.layers:
        streams.append(_layer_handoffs(layer, tz, after))
        streams.extend(_window_edges(window, tz, after) for window in layer.restrict)
    return heapq.merge(*streams)


def next_handoffs(
    schedule: Schedule, after_utc: datetime, count: int, horizon: timedelta = DEFAULT_HORIZON
) -> list[Shift]:
    """The next `count` changes of who is on call strictly after `after_utc`, within `horizon`.

    A hand-off from someone to themselves (a one-member layer) is not a change.
    """
    after = _utc(after_utc)
    current = oncall_at(schedule, after)
    shifts: list[Shift] = []
    last = after
    for instant in _candidates(schedule, after):
        if len(shifts) >= count or instant > after + horizon:
            break
        if instant <= last:
            continue
        last = instant
        now = oncall_at(schedule, instant)
        if now != current:
            shifts.append(Shift(instant, now[0] if now else None))
            current = now
    return shifts
