"""Pydantic field types shared by the routing config sections: durations and IANA time zones."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, PlainSerializer, PlainValidator, WithJsonSchema

from routing.basics.duration import DurationError, format_duration, parse_duration


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

TimeZone = Annotated[
    ZoneInfo,
    PlainValidator(zone),
    PlainSerializer(lambda tz: tz.key, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["Europe/Madrid"]}),
]
