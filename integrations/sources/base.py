"""What every alert source implements, and the error a parser raises on bad input."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from routing.intake.alert import Alert


class PayloadError(ValueError):
    """The body cannot be turned into alerts; `field` names where (dotted path)."""

    def __init__(self, field: str, message: str, status_code: int = 422) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.status_code = status_code  # 400 for unparsable bodies, 422 for wrong shape


@dataclass(frozen=True, slots=True)
class SourceOptions:
    """Per-source settings a parser needs: how its names map to firebell services."""

    services: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ParseResult:
    """What a parser found: the alerts, plus a note when the body is recorded but inert
    (e.g. a Sentry `installation` hook), and how many input units it could not parse
    (e.g. Nginx lines that are not error.log lines; they stay in the inbox)."""

    alerts: list[Alert]
    note: str | None = None
    unparsed: int = 0


class Source(Protocol):
    """A pure parser: no I/O, no clock. Raises PayloadError for bad input."""

    name: str

    def parse(
        self, body: bytes, headers: Mapping[str, str], options: SourceOptions
    ) -> ParseResult: ...
