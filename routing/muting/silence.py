"""Silences: matchers plus a time window (one-off, or recurring weekly), as pure decisions.

The same model serves silences created through the API/chat (stored by the shell) and
recurring maintenance windows written in the config's `silences:` section.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cached_property
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, field_validator, model_validator

from routing.basics.clock import DAY_MINUTES, WeeklyWindow, clock_minutes, weekday_set
from routing.basics.field import TimeZone
from routing.muting.matcher import MatcherList


class Recurrence(BaseModel):
    """Weekly windows in a zone, e.g. weekdays ["sunday"], times ["02:00-04:00"].

    A time range ending at or before its start crosses midnight: it opens on each listed
    weekday and closes the next day ("friday", "22:00-02:00" ends Saturday 02:00).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    weekdays: list[str] = []  # "monday:friday", "mon-fri", "sunday"; empty means every day
    times: list[str] = []  # "HH:MM-HH:MM"; empty means all day
    time_zone: TimeZone = ZoneInfo("UTC")

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, value: list[str]) -> list[str]:
        for item in value:
            _days(item)
        return value

    @field_validator("times")
    @classmethod
    def _times(cls, value: list[str]) -> list[str]:
        for item in value:
            _clock_range(item)
        return value

    @cached_property
    def windows(self) -> list[WeeklyWindow]:
        days: frozenset[int] = frozenset().union(*(_days(item) for item in self.weekdays))
        days = days or frozenset(range(7))
        ranges = [_clock_range(item) for item in self.times] or [(0, DAY_MINUTES)]
        return [WeeklyWindow(days, start, end) for start, end in ranges]

    def contains(self, instant: datetime) -> bool:
        local = instant.astimezone(self.time_zone)
        return any(window.contains(local) for window in self.windows)

    def describe(self) -> str:
        """ "every sunday 02:00-04:00 (Europe/Madrid)", "every day all day (UTC)"."""
        days = ", ".join(self.weekdays) or "day"
        times = ", ".join(self.times) or "all day"
        return f"every {days} {times} ({self.time_zone})"

    def _spans(self, around: datetime) -> list[tuple[datetime, datetime]]:
        """(start, end) UTC of every window opening from the day before `around` to a
        week after it, in order of start."""
        first = around.astimezone(self.time_zone).date() - timedelta(days=1)
        spans = [
            (bounds[0], bounds[1])
            for offset in range(_HORIZON_DAYS + 2)
            for window in self.windows
            if (bounds := window.boundaries(first + timedelta(days=offset), self.time_zone))
        ]
        return sorted(spans)

    def next_start(self, after: datetime) -> datetime | None:
        """The first instant at or after `after` that a window opens or is open (`after`
        itself when inside one); None only for windows that never open."""
        for start, end in self._spans(after):
            if end > after:
                return max(start, after)
        return None

    def window_end(self, inside: datetime) -> datetime | None:
        """When the window(s) holding `inside` close, abutting windows joined; None when
        they close more than a week ahead (every day, all day) or `inside` is in none."""
        end: datetime | None = None
        for start, stop in self._spans(inside):
            if start <= (end or inside) < stop:
                end = stop if end is None else max(end, stop)
        if end is None or end - inside > timedelta(days=_HORIZON_DAYS):
            return None
        return end


_HORIZON_DAYS = 7  # a weekly recurrence repeats within this


def _days(item: str) -> frozenset[int]:
    return weekday_set(item, ":" if ":" in item else "-")


def _clock_range(text: str) -> tuple[int, int]:
    start, sep, end = text.partition("-")
    if not sep:
        raise ValueError(f'invalid time range {text!r} (expected "02:00-04:00")')
    return clock_minutes(start), clock_minutes(end, allow_24=True)


class SilenceState(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"


class Silence(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str | None = None
    matchers: MatcherList
    starts_at: AwareDatetime | None = None  # optional only for recurring silences
    ends_at: AwareDatetime | None = None
    created_by: str = "config"
    comment: str = ""
    recurrence: Recurrence | None = None

    @field_validator("matchers")
    @classmethod
    def _not_everything(cls, value: list) -> list:
        # As in Alertmanager: a silence whose every matcher matches an empty label
        # would silence every alert, which is never what someone meant.
        if not any(not matcher.matches({}) for matcher in value):
            raise ValueError(
                "at least one matcher must not match the empty string (it would silence everything)"
            )
        return value

    @model_validator(mode="after")
    def _window(self) -> Silence:
        if self.recurrence is None and (self.starts_at is None or self.ends_at is None):
            raise ValueError("a silence without `recurrence` needs both starts_at and ends_at")
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


def silence_state(silence: Silence, now: datetime) -> SilenceState:
    """Pending before starts_at, expired from ends_at, active between (recurrence aside)."""
    if silence.starts_at is not None and now < silence.starts_at:
        return SilenceState.PENDING
    if silence.ends_at is not None and now >= silence.ends_at:
        return SilenceState.EXPIRED
    return SilenceState.ACTIVE


@dataclass(frozen=True, slots=True)
class SilenceStatus:
    """A silence's true state at an instant: for a recurring one, active only inside a
    window, else pending until its next window (expired when no window is left)."""

    state: SilenceState
    next_window_at: datetime | None = None  # recurring and pending: when it mutes next
    window_ends_at: datetime | None = None  # active: when this window (or the silence) ends


def silence_status(silence: Silence, now: datetime) -> SilenceStatus:
    bounds = silence_state(silence, now)
    rec = silence.recurrence
    if bounds is SilenceState.EXPIRED:
        return SilenceStatus(bounds)
    if rec is None:
        if bounds is SilenceState.ACTIVE:
            return SilenceStatus(bounds, window_ends_at=silence.ends_at)
        return SilenceStatus(bounds, next_window_at=silence.starts_at)
    if bounds is SilenceState.ACTIVE and rec.contains(now):
        end = rec.window_end(now)
        if silence.ends_at is not None:
            end = min(end or silence.ends_at, silence.ends_at)
        return SilenceStatus(SilenceState.ACTIVE, window_ends_at=end)
    after = max(now, silence.starts_at) if silence.starts_at else now
    start = rec.next_start(after)
    if start is None or (silence.ends_at is not None and start >= silence.ends_at):
        return SilenceStatus(SilenceState.EXPIRED)  # no window left before its end
    return SilenceStatus(SilenceState.PENDING, next_window_at=start)


def recurrence_problem(
    recurrence: Recurrence, starts_at: datetime, ends_at: datetime | None
) -> str | None:
    """Why a recurring silence from `starts_at` to `ends_at` would never mute, if it would not."""
    start = recurrence.next_start(starts_at)
    if start is None:
        return f"its windows never open: {recurrence.describe()}"
    if ends_at is not None and start >= ends_at:
        return (
            f"{recurrence.describe()}: no window opens before it ends "
            f"(the next opens at {start.isoformat()})"
        )
    return None


def silence_active(silence: Silence, now: datetime) -> bool:
    """Whether the silence mutes at `now`: inside its window and, if recurring, a recurrence."""
    if silence_state(silence, now) is not SilenceState.ACTIVE:
        return False
    return silence.recurrence is None or silence.recurrence.contains(now)


def silencing(
    silences: Iterable[Silence], labels: Mapping[str, str], now: datetime
) -> Silence | None:
    """The first silence muting an alert with these labels at `now`, if any."""
    for silence in silences:
        if silence_active(silence, now) and all(m.matches(labels) for m in silence.matchers):
            return silence
    return None


def expiring_soon(silences: Iterable[Silence], now: datetime, within: timedelta) -> list[Silence]:
    """Silences in force whose end falls within `within` of now, soonest first (for
    reminders). A recurring silence inside a window comes as a copy ending when that
    window closes: each window's end is reminded of, as a one-off silence's end is."""
    due = []
    for silence in silences:
        status = silence_status(silence, now)
        end = status.window_ends_at
        if status.state is SilenceState.ACTIVE and end is not None and end <= now + within:
            due.append(
                silence if end == silence.ends_at else silence.model_copy(update={"ends_at": end})
            )
    return sorted(due, key=lambda silence: silence.ends_at or now)
