"""Shared decoding for source parsers: JSON bodies, headers, typed fields, times, services.

Every helper raises PayloadError naming the offending field (a dotted path such as
`alerts[3].labels`), never anything else, so parsers built on them keep the Source
contract: for any input, a ParseResult or a PayloadError.

Headers: callers pass a mapping with lowercase names (what ASGI servers give);
`header` also accepts other spellings, so a parser never depends on the case.

Storable values: `decode_json` hands parsers text both databases can store (NUL and
lone surrogates become U+FFFD, routing.basics.storable), and `map_service` refuses a
service too long for its column with AlertRefused, so one alert is refused, not the body.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson

from integrations.sources.base import AlertRefused, PayloadError, SourceOptions
from routing.basics.storable import over_limit, storable_text
from routing.intake.alert import UNKNOWN_SERVICE, Alert

# JSON can carry NUL only as this escape: a raw control character is not valid JSON.
_NUL_ESCAPE = b"\\u0000"


def decode_json(body: bytes) -> Any:
    """The JSON value in `body`, every string (keys too) storable; 400 when it is not
    UTF-8 JSON. Lone surrogate escapes ("\\ud800"), which orjson refuses, are read as
    Go's encoding/json reads them: as U+FFFD, so such an alert is stored, not lost."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        value = _decode_leniently(body, exc)
        return storable_json(value)
    return storable_json(value) if _NUL_ESCAPE in body else value


def _decode_leniently(body: bytes, error: orjson.JSONDecodeError) -> Any:
    """What the standard library reads where orjson refuses: only lone surrogates
    differ once NaN, Infinity and overflowing numbers are refused too."""
    try:
        return json.loads(
            body.decode("utf-8"), parse_constant=_no_constant, parse_float=_finite_float
        )
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise PayloadError("body", f"not valid JSON: {error}", 400) from None


def _no_constant(word: str) -> Any:
    raise ValueError(f"{word} is not JSON")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError("number out of range")
    return number


def storable_json(value: Any) -> Any:
    """A decoded JSON value with every string (keys too) made storable. A loop, not
    recursion: a body may nest as deep as the decoder allows (1,024 levels)."""
    root: list[Any] = [None]
    pending: list[tuple[Any, Any, Any]] = [(value, root, 0)]  # (value, container, where)
    while pending:
        item, container, where = pending.pop()
        if isinstance(item, str):
            container[where] = storable_text(item)
        elif isinstance(item, dict):
            copy: dict[str, Any] = {}
            container[where] = copy
            for key, child in item.items():
                key = storable_text(key)
                copy[key] = None  # keeps the sender's key order
                pending.append((child, copy, key))
        elif isinstance(item, list):
            container[where] = copied = [None] * len(item)
            pending.extend((child, copied, index) for index, child in enumerate(item))
        else:
            container[where] = item
    return root[0]


def alerts_of(
    items: Iterable[Any], build: Callable[[Any, str], Alert], prefix: str
) -> tuple[list[Alert], list[AlertRefused]]:
    """`build(item, path)` for each item at `prefix[index]`: the alerts, and the items
    refused one by one (AlertRefused); any other PayloadError refuses the body."""
    alerts: list[Alert] = []
    refused: list[AlertRefused] = []
    for index, item in enumerate(items):
        try:
            alerts.append(build(item, f"{prefix}[{index}]"))
        except AlertRefused as exc:
            refused.append(exc)
    return alerts, refused


def header(headers: Mapping[str, str], name: str) -> str | None:
    """The value of header `name`, whatever the case of the keys in `headers`."""
    lowered = name.lower()
    value = headers.get(lowered)
    if value is None:
        # Callers should pass lowercase keys; tolerate any other spelling anyway.
        for key, candidate in headers.items():
            if key.lower() == lowered:
                return candidate
    return value


def require_object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PayloadError(field, f"expected an object, got {type_name(value)}")
    return value


def optional_object(container: Mapping[str, Any], key: str, field: str) -> dict[str, Any]:
    """container[key] as an object; missing or null is an empty object."""
    value = container.get(key)
    if value is None:
        return {}
    return require_object(value, field)


def optional_str(container: Mapping[str, Any], key: str, field: str) -> str | None:
    """container[key] as a string; missing, null or empty is None."""
    value = container.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise PayloadError(field, f"expected a string, got {type_name(value)}")
    return value


def optional_id(container: Mapping[str, Any], key: str, field: str) -> str | None:
    """An identifier that senders write as a string or an integer; None when absent."""
    value = container.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise PayloadError(field, f"expected a string or integer id, got {type_name(value)}")
    return str(value)


def string_map(value: Any, field: str) -> dict[str, str]:
    """A {str: str} object (labels, annotations); null is empty."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadError(field, f"expected an object of strings, got {type_name(value)}")
    for key, item in value.items():
        if not isinstance(item, str):
            raise PayloadError(f"{field}.{key}", f"expected a string, got {type_name(item)}")
    return value


def parse_time(value: Any, field: str, *, epoch: bool = False) -> datetime | None:
    """An RFC 3339 / ISO 8601 string (or, with `epoch`, Unix seconds) as aware UTC.

    Null, empty and Go's zero time (`0001-01-01T00:00:00Z`, Alertmanager's "unset")
    are None. A time without an offset is taken as UTC.
    """
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            return _parse_time_text(value)
        except ValueError as exc:
            raise PayloadError(field, str(exc)) from None
    if epoch and isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            raise PayloadError(field, f"Unix time out of range: {brief(value)}") from None
    wanted = "a time string or Unix seconds" if epoch else "an RFC 3339 time string"
    raise PayloadError(field, f"expected {wanted}, got {type_name(value)}")


@lru_cache(maxsize=4096)
def _parse_time_text(value: str) -> datetime | None:
    """Cached by the text alone: senders repeat the same startsAt/endsAt in every resend
    of an alert, and a storm thousands of times (datetimes are immutable, so sharing them
    is safe). Raises ValueError with the problem."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not an RFC 3339 time: {brief(value)}") from None
    if parsed.year == 1:
        return None  # Go's zero time.Time
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"time out of range: {brief(value)}") from None


def map_service(name: str | None, options: SourceOptions, field: str) -> str:
    """The firebell service for a source-side name (read from `field`); the name itself
    when unmapped. AlertRefused, naming `field`, when it is too long to store."""
    if not name:
        return UNKNOWN_SERVICE
    service = options.services.get(name, name)
    problem = over_limit("service", service)
    if problem is not None:
        raise AlertRefused(field, problem)
    return service


def brief(value: Any) -> str:
    """A sender's value quoted for an error message, never longer than a line."""
    try:
        text = repr(value)
    except RecursionError:  # a value nested about a thousand levels deep
        return f"a deeply nested {type_name(value)}"
    return text if len(text) <= 64 else text[:63] + "…"


def type_name(value: Any) -> str:
    """JSON's name for a decoded value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__
