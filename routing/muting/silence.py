"""Silences: matchers plus a time window (one-off, or recurring weekly), as pure decisions.

The same model serves silences created through the API/chat (stored by the shell) and
recurring maintenance windows written in the config's `silences:` section.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
    """Silences in force whose end falls within `within` of now, soonest first (for reminders)."""
    due = [
        silence
        for silence in silences
        if silence.ends_at is not None
        and silence_state(silence, now) is SilenceState.ACTIVE
        and silence.ends_at <= now + within
    ]
    return sorted(due, key=lambda silence: silence.ends_at or now)
