"""What every alert source implements, and the error a parser raises on bad input."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol
from zoneinfo import ZoneInfo

from routing.intake.alert import Alert
from routing.intake.submission import SourceComment


class PayloadError(ValueError):
    """The body cannot be turned into alerts; `field` names where (dotted path)."""

    def __init__(self, field: str, message: str, status_code: int = 422) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.status_code = status_code  # 400 for unparsable bodies, 422 for wrong shape


class AlertRefused(PayloadError):
    """One alert of the body cannot be stored (a field over its column's limit, see
    routing.basics.storable) while the body's other alerts can: parsers leave that
    alert out and report it in `ParseResult.refused` (a body of one alert raises it)."""


@dataclass(frozen=True, slots=True)
class SourceOptions:
    """Per-source settings a parser needs: how its names map to firebell services, and
    the zone of times written without one (Nginx error.log lines)."""

    services: Mapping[str, str] = field(default_factory=dict)
    time_zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))


@dataclass(frozen=True, slots=True)
class ParseResult:
    """What a parser found: the alerts, plus a note when the body is recorded but inert
    (e.g. a Sentry `installation` hook), how many input units it could not parse
    (e.g. Nginx lines that are not error.log lines; they stay in the inbox), and the
    alerts it refused one by one (their fields named; the others are stored)."""

    alerts: list[Alert]
    note: str | None = None
    unparsed: int = 0
    refused: list[AlertRefused] = field(default_factory=list)
    # Remarks on alerts for their incidents' timelines (Sentry issue comments).
    comments: list[SourceComment] = field(default_factory=list)

    def inbox_note(self) -> str | None:
        """The note stored with the raw body: the parser's, and each refused field."""
        parts = [self.note] if self.note else []
        parts += [f"refused {exc.field}: {exc.message}" for exc in self.refused]
        return "; ".join(parts) or None


class Source(Protocol):
    """A pure parser: no I/O, no clock. Raises PayloadError for bad input."""

    name: str

    def parse(
        self, body: bytes, headers: Mapping[str, str], options: SourceOptions
    ) -> ParseResult: ...
