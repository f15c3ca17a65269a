"""Alertmanager time intervals: named recurring windows that mute or activate routes.

Same fields and semantics as Alertmanager's `time_intervals` (weekdays, times with an
exclusive end, days_of_month counting back from the month's end when negative, months,
years, location). An interval is written flat, or as a list of alternatives under
`time_intervals:` exactly as in Alertmanager.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    ConfigDict,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
    model_validator,
)

from routing.basics.clock import clock_minutes, format_minutes, minute_of_day, weekday_number
from routing.basics.field import TimeZone

_MONTHS = [name.lower() for name in calendar.month_name[1:]]


@dataclass(frozen=True, slots=True)
class Span:
    """An inclusive range of numbers (exclusive end for clock times), kept with its source text."""

    start: int
    end: int
    text: str


def _range_parts(text: Any, what: str) -> tuple[str, str]:
    if not isinstance(text, str | int) or isinstance(text, bool):
        raise ValueError(f"invalid {what} {text!r}")
    first, sep, last = str(text).strip().partition(":")
    return first, (last if sep else first)


def _weekday_span(text: Any) -> Span:
    first, last = _range_parts(text, "weekday range")
    start, end = weekday_number(first), weekday_number(last)
    if start > end:
        raise ValueError(
            f"weekday range {text!r} runs backwards (write 'saturday:sunday', not wrapping)"
        )
    return Span(start, end, str(text))


def _month_number(text: str) -> int:
    key = text.strip().lower()
    if key.isdigit() and 1 <= int(key) <= 12:
        return int(key)
    for number, name in enumerate(_MONTHS, start=1):
        if key in (name, name[:3]):
            return number
    raise ValueError(f"unknown month {text!r} (january..december or 1..12)")


def _month_span(text: Any) -> Span:
    first, last = _range_parts(text, "month range")
    start, end = _month_number(first), _month_number(last)
    if start > end:
        raise ValueError(f"month range {text!r} runs backwards")
    return Span(start, end, str(text))


def _int(text: str, what: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ValueError(f"invalid {what} {text!r}") from None


def _day_of_month_span(text: Any) -> Span:
    first, last = _range_parts(text, "days_of_month range")
    start, end = _int(first, "day of month"), _int(last, "day of month")
    for day in (start, end):
        if day == 0 or not -31 <= day <= 31:
            raise ValueError(f"day of month {day} in {text!r} must be 1..31 or -31..-1")
    # Same sign: must not run backwards; "1:-1" (first to last) is fine, "-1:1" is not.
    if ((start > 0) == (end > 0) and start > end) or start < 0 < end:
        raise ValueError(f"days_of_month range {text!r} runs backwards")
    return Span(start, end, str(text))


def _year_span(text: Any) -> Span:
    first, last = _range_parts(text, "year range")
    start, end = _int(first, "year"), _int(last, "year")
    if start <= 0 or start > end:
        raise ValueError(f"year range {text!r} must be positive and not run backwards")
    return Span(start, end, str(text))


def _time_span(value: Any) -> Span:
    """ "09:00-18:00" or Alertmanager's {start_time: "09:00", end_time: "18:00"}; end exclusive."""
    if isinstance(value, dict) and set(value) == {"start_time", "end_time"}:
        first, last = str(value["start_time"]), str(value["end_time"])
    elif isinstance(value, str) and "-" in value:
        first, _, last = value.partition("-")
    else:
        raise ValueError(f'invalid time range {value!r} (expected "09:00-18:00")')
    start, end = clock_minutes(first), clock_minutes(last, allow_24=True)
    if start >= end:
        raise ValueError(
            f"time range {value!r} must end after it starts; split a range crossing midnight "
            f'into "22:00-24:00" and "00:00-06:00"'
        )
    return Span(start, end, f"{format_minutes(start)}-{format_minutes(end)}")


def _spans(parse: Callable[[Any], Span]) -> PlainValidator:
    def validate(value: Any) -> list[Span]:
        if not isinstance(value, list | tuple):
            value = [value]
        return [item if isinstance(item, Span) else parse(item) for item in value]

    return PlainValidator(validate)


_AS_TEXT = PlainSerializer(lambda spans: [span.text for span in spans], return_type=list[str])
_TEXT_LIST = WithJsonSchema({"type": "array", "items": {"type": "string"}})

Weekdays = Annotated[list[Span], _spans(_weekday_span), _AS_TEXT, _TEXT_LIST]
Times = Annotated[list[Span], _spans(_time_span), _AS_TEXT, _TEXT_LIST]
DaysOfMonth = Annotated[list[Span], _spans(_day_of_month_span), _AS_TEXT, _TEXT_LIST]
Months = Annotated[list[Span], _spans(_month_span), _AS_TEXT, _TEXT_LIST]
Years = Annotated[list[Span], _spans(_year_span), _AS_TEXT, _TEXT_LIST]


def _within(spans: list[Span], value: int) -> bool:
    return not spans or any(span.start <= value <= span.end for span in spans)


def _day_of_month_within(spans: list[Span], local: datetime) -> bool:
    if not spans:
        return True
    days = calendar.monthrange(local.year, local.month)[1]
    for span in spans:
        start = span.start if span.start > 0 else days + span.start + 1
        end = span.end if span.end > 0 else days + span.end + 1
        # A range starting past this month's end (e.g. 31 in April) is skipped, as in Alertmanager.
        if start <= days and max(start, 1) <= local.day <= min(end, days):
            return True
    return False


class TimeIntervalSpec(BaseModel):
    """One window; every field given must match (an empty spec matches always)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weekdays: Weekdays = []
    times: Times = []
    days_of_month: DaysOfMonth = []
    months: Months = []
    years: Years = []
    location: TimeZone = ZoneInfo("UTC")

    def contains(self, instant: datetime) -> bool:
        local = instant.astimezone(self.location)
        minute = minute_of_day(local)
        return (
            (not self.times or any(span.start <= minute < span.end for span in self.times))
            and _within(self.weekdays, local.weekday())
            and _day_of_month_within(self.days_of_month, local)
            and _within(self.months, local.month)
            and _within(self.years, local.year)
        )


_SPEC_FIELDS = frozenset(TimeIntervalSpec.model_fields)


class TimeInterval(TimeIntervalSpec):
    """A named interval: the flat fields, or alternatives under `time_intervals` (any may match)."""

    name: str
    time_intervals: list[TimeIntervalSpec] = []

    @model_validator(mode="after")
    def _one_form(self) -> TimeInterval:
        if self.time_intervals and self.model_fields_set & _SPEC_FIELDS:
            raise ValueError(
                f"time interval {self.name!r}: give either the fields "
                "(weekdays, times, ...) or a `time_intervals` list, not both"
            )
        return self

    def contains(self, instant: datetime) -> bool:
        if self.time_intervals:
            return any(spec.contains(instant) for spec in self.time_intervals)
        return super().contains(instant)


def interval_contains(interval: TimeInterval | TimeIntervalSpec, instant_utc: datetime) -> bool:
    """Whether the aware instant falls inside the interval (naive instants are taken as UTC)."""
    if instant_utc.tzinfo is None:
        instant_utc = instant_utc.replace(tzinfo=UTC)
    return interval.contains(instant_utc)
