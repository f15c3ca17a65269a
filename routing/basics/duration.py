"""Human durations as written in config and commands: "90s", "5m", "1h30m", "2d"."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+)(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class DurationError(ValueError):
    pass


def parse_duration(text: str | int | float | timedelta) -> timedelta:
    """Parse "1h30m"-style text (Prometheus units); a bare number means seconds."""
    try:
        return _parse(text)
    except (OverflowError, ValueError) as exc:  # past timedelta's range, NaN, 5000 digits
        if isinstance(exc, DurationError):
            raise
        raise DurationError(f"invalid duration {str(text)[:40]!r}: out of range") from None


def _parse(text: str | int | float | timedelta) -> timedelta:
    if isinstance(text, timedelta):
        return text
    if isinstance(text, bool):
        raise DurationError(f"invalid duration {text!r}")
    if isinstance(text, int | float):
        if text < 0:
            raise DurationError(f"invalid duration {text!r}: negative")
        return timedelta(seconds=text)
    value = text.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    pos = 0
    total = 0.0
    for match in _PART.finditer(value):
        if match.start() != pos:
            break
        total += int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(value) or not value:
        raise DurationError(f'invalid duration "{text}"')
    return timedelta(seconds=total)


def format_duration(delta: timedelta) -> str:
    """Inverse of parse_duration for whole seconds: 5400s -> "1h30m"."""
    seconds = int(delta.total_seconds())
    if seconds == 0:
        return "0s"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            out.append(f"{count}{unit}")
    return "".join(out)
