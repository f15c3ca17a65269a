"""Alertmanager label matchers (`=`, `!=`, `=~`, `!~`): parsing, matching and the config field type.

Regexes are anchored like Alertmanager's (the whole value must match) and compiled once
at parse time, because matching runs for every alert on every route.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema


class MatchType(StrEnum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


class MatcherError(ValueError):
    pass


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Longest operators first so "=~" is not read as "=" followed by "~...".
_OPERATORS = (MatchType.REGEX, MatchType.NOT_REGEX, MatchType.NOT_EQUAL, MatchType.EQUAL)


@dataclass(frozen=True, slots=True)
class Matcher:
    """One label matcher; a regex is compiled on construction (MatcherError if invalid)."""

    name: str
    type: MatchType
    value: str
    _regex: re.Pattern[str] | None = field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        kind = MatchType(self.type)
        object.__setattr__(self, "type", kind)
        if kind in (MatchType.REGEX, MatchType.NOT_REGEX):
            try:
                object.__setattr__(self, "_regex", re.compile(self.value))
            except re.error as exc:
                raise MatcherError(
                    f"invalid regex {self.value!r} for label {self.name!r}: {exc}"
                ) from None

    def matches(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.name, "")  # a missing label equals ""
        if self.type is MatchType.EQUAL:
            return value == self.value
        if self.type is MatchType.NOT_EQUAL:
            return value != self.value
        assert self._regex is not None
        found = self._regex.fullmatch(value) is not None
        return found if self.type is MatchType.REGEX else not found

    def __str__(self) -> str:
        name = self.name if _NAME.fullmatch(self.name) else _quote(self.name)
        return f"{name}{self.type.value}{_quote(self.value)}"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _unescape(raw: str, text: str) -> str:
    """Alertmanager's value unescaping: \\n, \\", \\\\; any other backslash stays literal."""
    if raw.startswith('"'):
        end = _closing_quote(raw, 0)
        if end < 0:
            raise MatcherError(f"matcher {text!r}: value is missing its closing double quote")
        if end != len(raw) - 1:
            raise MatcherError(f"matcher {text!r}: unexpected text after the quoted value")
        raw = raw[1:end]
    out: list[str] = []
    i = 0
    while i < len(raw):
        char = raw[i]
        if char == "\\" and i + 1 < len(raw):
            nxt = raw[i + 1]
            out.append({"n": "\n", '"': '"', "\\": "\\"}.get(nxt, "\\" + nxt))
            i += 2
            continue
        if char == '"':
            raise MatcherError(f"matcher {text!r}: value contains an unescaped double quote")
        out.append(char)
        i += 1
    return "".join(out)


def parse_matcher(text: str) -> Matcher:
    """Parse one matcher: `name="value"`, `name!=value`, `name=~"re"`, `name!~re`."""
    if not isinstance(text, str):
        raise MatcherError(f"matcher must be a string like 'severity=\"critical\"', got {text!r}")
    rest = text.strip()
    if rest.startswith('"'):
        end = _closing_quote(rest, 0)
        if end < 0:
            raise MatcherError(f"matcher {text!r}: label name is missing its closing double quote")
        name = _unescape(rest[: end + 1], text)
        rest = rest[end + 1 :].lstrip()
    else:
        match = _NAME.match(rest)
        if not match:
            raise MatcherError(f'matcher {text!r}: expected a label name like severity="critical"')
        name = match.group()
        rest = rest[match.end() :].lstrip()
    if not name:
        raise MatcherError(f"matcher {text!r}: empty label name")
    for operator in _OPERATORS:
        if rest.startswith(operator.value):
            value = _unescape(rest[len(operator.value) :].strip(), text)
            return Matcher(name, operator, value)
    raise MatcherError(f"matcher {text!r}: expected one of = != =~ !~ after {name!r}")


def _closing_quote(text: str, start: int) -> int:
    """Index of the double quote closing the one at `start`, or -1."""
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i
        i += 1
    return -1


def _split_top_level(body: str, text: str) -> list[str]:
    """Split on commas outside double quotes."""
    parts: list[str] = []
    start = i = 0
    while i < len(body):
        char = body[i]
        if char == '"':
            end = _closing_quote(body, i)
            if end < 0:
                raise MatcherError(f"matchers {text!r}: unterminated double quote")
            i = end + 1
            continue
        if char == ",":
            parts.append(body[start:i])
            start = i + 1
        i += 1
    parts.append(body[start:])
    return parts


def parse_matchers(text: str) -> list[Matcher]:
    """Parse a matcher list: `{a="b", c=~"d"}` (braces optional) or a single matcher."""
    if not isinstance(text, str):
        raise MatcherError(f'matchers must be a string like \'{{a="b", c=~"d"}}\', got {text!r}')
    body = text.strip()
    if body.startswith("{"):
        if not body.endswith("}"):
            raise MatcherError(f"matchers {text!r}: missing closing brace")
        body = body[1:-1]
    if not body.strip():
        return []
    parts = _split_top_level(body, text)
    # A trailing comma is allowed, as in Alertmanager; any other empty item is a typo.
    if len(parts) > 1 and not parts[-1].strip():
        parts.pop()
    if any(not part.strip() for part in parts):
        raise MatcherError(f"matchers {text!r}: empty matcher between commas")
    return [parse_matcher(part) for part in parts]


def matches(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """All matchers match (an empty list matches everything)."""
    return all(matcher.matches(labels) for matcher in matchers)


def _coerce_list(value: Any) -> list[Matcher]:
    """Config form: a list of strings, each a matcher or a `{...}` list of them."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        raise ValueError(f"expected a list of matcher strings, got {type(value).__name__}")
    out: list[Matcher] = []
    for item in value:
        if isinstance(item, Matcher):
            out.append(item)
        else:
            out.extend(parse_matchers(item))
    return out


MatcherList = Annotated[
    list[Matcher],
    PlainValidator(_coerce_list),
    PlainSerializer(lambda ms: [str(m) for m in ms], return_type=list[str]),
    WithJsonSchema(
        {"type": "array", "items": {"type": "string"}, "examples": [['severity="critical"']]}
    ),
]
