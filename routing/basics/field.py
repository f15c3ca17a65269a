"""Pydantic field types shared by the routing config sections: durations and IANA time zones."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BeforeValidator,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
)

from routing.basics.duration import DurationError, format_duration, parse_duration

SECRET_MARKER = object()  # Annotated marker: redacted in dumps, collected for log scrubbing


def check_secret(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank (leave the key out to unset it)")
    # A trailing newline from a secrets file never matches what the sender signs with.
    if value != value.strip():
        raise ValueError(
            "has leading or trailing whitespace (check how it or its environment variable is set)"
        )
    return value


# A token, password or key: masked in dumps, scrubbed from logs, outputs and pages.
Secret = Annotated[str, AfterValidator(check_secret), SECRET_MARKER]


def refuse_unused_key(data: Any, key: str, instead: str) -> Any:
    """For a model's before-validator: refuse a key firebell once accepted and never
    read, saying what to write instead (no setting may silently do nothing)."""
    if isinstance(data, dict) and key in data:
        raise ValueError(f"{key}: {instead}")
    return data


def _duration(value: Any) -> timedelta:
    try:
        return parse_duration(value)
    except DurationError as exc:
        raise ValueError(str(exc)) from None
    except (TypeError, AttributeError):
        raise ValueError(f"invalid duration {value!r}") from None


def zone(name: Any) -> ZoneInfo:
    """An IANA zone from its name; a clear error for anything else (no "local" zone)."""
    if isinstance(name, ZoneInfo):
        return name
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"time zone must be an IANA name like 'Europe/Madrid', got {name!r}")
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r} (expected an IANA name like 'Europe/Madrid')"
        ) from None


Duration = Annotated[
    timedelta,
    BeforeValidator(_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["5m", "1h30m"]}),
]


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than 0s")
    return value


# A timeout, window or interval: 0s would make it fail or match nothing, silently.
PositiveDuration = Annotated[Duration, AfterValidator(_positive)]

TimeZone = Annotated[
    ZoneInfo,
    PlainValidator(zone),
    PlainSerializer(lambda tz: tz.key, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["Europe/Madrid"]}),
]
