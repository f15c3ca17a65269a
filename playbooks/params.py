"""Playbook params: typed values given at run time (chat k=v, CLI --param, REST), checked
against the playbook's ParamSpec before anything renders.

Every value arrives as text and leaves typed for templates: string and choice as text,
int as int, bool as bool, duration as normalized text ("1h30m", what log steps' `since`
reads). Specs are checked when the playbook loads, defaults included, so a run never
fails on a default.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Final

from playbooks.model import ParamSpec
from routing.basics.duration import DurationError, format_duration, parse_duration

MAX_PARAM_CHARS: Final = 1024
_TRUE: Final = frozenset({"true", "yes", "on", "1"})
_FALSE: Final = frozenset({"false", "no", "off", "0"})
_INT: Final = re.compile(r"[+-]?\d{1,18}")


class ParamError(ValueError):
    """A param value (or a spec) is wrong: `name` is the param, `message` says why."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"params.{name}: {message}")
        self.name = name
        self.message = message


def _text(value: Any) -> str:
    # YAML defaults and JSON params may be numbers or booleans: read them as written.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, timedelta):
        return format_duration(value)
    return str(value)


def _duration(text: str) -> timedelta:
    try:
        value = parse_duration(text)
    except DurationError as exc:
        raise ValueError(f"{exc} (expected e.g. 30m, 1h30m, 2d)") from None
    if value < timedelta(seconds=1):
        raise ValueError("must be at least 1s")
    return value


def _integer(text: str) -> int:
    if not _INT.fullmatch(text.strip()):
        raise ValueError(f'"{text}" is not a whole number')
    return int(text.strip())


def _bounds(spec: ParamSpec) -> tuple[Any, Any]:
    """min and max of an int or duration spec as values (ValueError if unreadable)."""
    read = _duration if spec.type == "duration" else _integer
    low = None if spec.min is None else read(_text(spec.min))
    high = None if spec.max is None else read(_text(spec.max))
    return low, high


def _show(spec: ParamSpec, value: Any) -> str:
    return format_duration(value) if spec.type == "duration" else str(value)


def _in_bounds(spec: ParamSpec, value: Any) -> None:
    low, high = _bounds(spec)
    if low is not None and value < low:
        raise ValueError(f"must be at least {_show(spec, low)}")
    if high is not None and value > high:
        raise ValueError(f"must be at most {_show(spec, high)}")


def _convert(spec: ParamSpec, text: str) -> Any:
    """The typed value of `text` under `spec` (ValueError says why not)."""
    if len(text) > MAX_PARAM_CHARS:
        raise ValueError(f"longer than {MAX_PARAM_CHARS} characters")
    if spec.type == "string":
        if spec.pattern is not None and not re.fullmatch(spec.pattern, text):
            raise ValueError(f'"{text}" does not match the pattern {spec.pattern}')
        return text
    if spec.type == "choice":
        choices = spec.choices or []
        if text not in choices:
            raise ValueError(f'"{text}" is not one of: {", ".join(choices)}')
        return text
    if spec.type == "bool":
        lowered = text.strip().lower()
        if lowered in _TRUE | _FALSE:
            return lowered in _TRUE
        raise ValueError(f'"{text}" is not a boolean (true or false)')
    if spec.type == "int":
        number = _integer(text)
        _in_bounds(spec, number)
        return number
    duration = _duration(text)
    _in_bounds(spec, duration)
    return format_duration(duration)


def spec_problems(name: str, spec: ParamSpec) -> list[str]:
    """What is wrong with a param's spec, each as "params.<name>.<key>: ..."."""
    where = f"params.{name}"
    problems: list[str] = []
    if spec.pattern is not None:
        if spec.type != "string":
            problems.append(f"{where}.pattern: only a string param has a pattern")
        else:
            try:
                re.compile(spec.pattern)
            except re.error as exc:
                problems.append(f"{where}.pattern: invalid regular expression: {exc}")
    if spec.type == "choice" and not spec.choices:
        problems.append(f"{where}.choices: a choice param needs a list of choices")
    if spec.choices is not None and spec.type != "choice":
        problems.append(f"{where}.choices: only a choice param has choices")
    for key in ("min", "max"):
        if getattr(spec, key) is not None and spec.type not in ("int", "duration"):
            problems.append(f"{where}.{key}: only an int or duration param has a {key}")
    if problems:
        return problems
    if spec.type in ("int", "duration"):
        try:
            low, high = _bounds(spec)
        except ValueError as exc:
            return [f"{where}: min/max: {exc}"]
        if low is not None and high is not None and low > high:
            return [f"{where}.min: is larger than max"]
    if spec.default is not None:
        try:
            _convert(spec, _text(spec.default))
        except ValueError as exc:
            problems.append(f"{where}.default: {exc}")
    return problems


def resolve_params(specs: Mapping[str, ParamSpec], given: Mapping[str, Any]) -> dict[str, Any]:
    """Every declared param's typed value: the one given, else the default. Raises
    ParamError for an unknown name, a missing required param or a bad value."""
    for name in given:
        if name not in specs:
            known = ", ".join(sorted(specs)) or "none"
            raise ParamError(name, f"unknown param (this playbook's params: {known})")
    resolved: dict[str, Any] = {}
    for name, spec in specs.items():
        if name in given:
            text = _text(given[name])
        elif spec.default is not None:
            text = _text(spec.default)
        else:
            raise ParamError(name, f"required ({spec.type}{_hint(spec)})")
        try:
            resolved[name] = _convert(spec, text)
        except ValueError as exc:
            raise ParamError(name, str(exc)) from None
    return resolved


def _hint(spec: ParamSpec) -> str:
    if spec.type == "choice" and spec.choices:
        return f": one of {', '.join(spec.choices)}"
    return f": {spec.description}" if spec.description else ""
