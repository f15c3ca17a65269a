"""Wall-clock time in a zone: weekday and HH:MM parsing, local-to-UTC across DST, weekly windows.

Schedules, restrictions, recurring silences and time intervals are all written in local
wall time; this module is the one place that turns wall time into UTC instants.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")
DAY_MINUTES = 24 * 60


def weekday_number(name: str) -> int:
    """Monday=0 .. Sunday=6 from a full or three-letter English name (any case)."""
    key = name.strip().lower()
    for number, full in enumerate(WEEKDAYS):
        if key in (full, full[:3]):
            return number
    raise ValueError(f"unknown weekday {name!r} (expected monday..sunday or mon..sun)")


def weekday_set(text: str, separator: str) -> frozenset[int]:
    """Days named by "mon", "mon-fri" or "fri-mon" (wrapping), comma-separated items allowed."""
    days: set[int] = set()
    for item in text.split(","):
        first, sep, last = item.partition(separator)
        start = weekday_number(first)
        end = weekday_number(last) if sep else start
        days.update((start + offset) % 7 for offset in range((end - start) % 7 + 1))
    return frozenset(days)


def clock_minutes(text: str, *, allow_24: bool = False) -> int:
    """Minutes since midnight from "HH:MM"; "24:00" only where it may end a range."""
    match = _CLOCK.fullmatch(text.strip())
    if not match:
        raise ValueError(f"invalid time {text!r} (expected HH:MM)")
    hours, minutes = int(match.group(1)), int(match.group(2))
    total = hours * 60 + minutes
    if minutes > 59 or total > DAY_MINUTES or (total == DAY_MINUTES and not allow_24):
        raise ValueError(f"invalid time {text!r} (00:00 to {'24:00' if allow_24 else '23:59'})")
    return total


def format_minutes(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def minute_of_day(local: datetime) -> int:
    return local.hour * 60 + local.minute


def local_to_utc(wall: datetime, tz: ZoneInfo) -> datetime:
    """The first UTC instant at which the clock in `tz` reads `wall` (naive) or later.

    Ambiguous wall times (autumn fold) resolve to their first occurrence; wall times
    skipped by a spring-forward gap resolve to the end of the gap. Both keep the mapping
    monotonic, so hand-offs never run backwards across a DST change.
    """
    naive = wall.replace(tzinfo=None)
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == naive:
        return first
    # In a gap: fold=1 lands before it, fold=0 after it. Zone transitions fall on whole
    # seconds, so bisect whole seconds for the first one whose wall time reaches `naive`.
    low, high = sorted((int(naive.replace(tzinfo=tz, fold=1).timestamp()), int(first.timestamp())))
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, tz).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def at_wall_time(day: date, minutes: int, tz: ZoneInfo) -> datetime:
    """UTC instant of `minutes` past local midnight on `day` (1440 means the next midnight)."""
    return local_to_utc(datetime.combine(day, time()) + timedelta(minutes=minutes), tz)


@dataclass(frozen=True, slots=True)
class WeeklyWindow:
    """A window starting at `start` (minutes) on each of `days`, ending at `end`.

    An end at or before the start crosses midnight into the next day, so
    "mon-fri 18:00-09:00" covers each weeknight; an equal end means a full 24 hours.
    """

    days: frozenset[int]
    start: int
    end: int

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    def contains(self, local: datetime) -> bool:
        weekday, minute = local.weekday(), minute_of_day(local)
        if not self.crosses_midnight:
            return weekday in self.days and self.start <= minute < self.end
        return (weekday in self.days and minute >= self.start) or (
            (weekday - 1) % 7 in self.days and minute < self.end
        )

    def boundaries(self, day: date, tz: ZoneInfo) -> list[datetime]:
        """UTC start and end of the window opening on local `day` (empty if none opens)."""
        if day.weekday() not in self.days:
            return []
        end_day = day + timedelta(days=1) if self.crosses_midnight else day
        return [at_wall_time(day, self.start, tz), at_wall_time(end_day, self.end, tz)]
