"""The web page's silence form, read into the API's SilenceIn: matchers as lines (or one
label/operator/value row), a duration (30m, 1h, 4h) or a custom end in the viewer's time
zone, and a comment. Pure: the form and the zone in, a SilenceIn or (field, why) out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from bot.http.errors import validation_errors
from bot.http.silences_api import SilenceIn
from routing.basics.clock import local_to_utc
from routing.muting.matcher import Matcher, MatcherError, parse_matchers

DURATIONS = ("30m", "1h", "4h")
CUSTOM = "custom"
OPERATORS = ("=", "!=", "=~", "!~")
MAX_LINES = 50


@dataclass(frozen=True, slots=True)
class SilenceForm:
    """What the person typed, kept to fill the form again after an error."""

    matchers: str = ""
    label: str = ""
    op: str = "="
    value: str = ""
    duration: str = "1h"
    ends_at: str = ""
    comment: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, data: Mapping[str, str]) -> SilenceForm:
        return cls(
            matchers=data.get("matchers", ""),
            label=data.get("label", "").strip(),
            op=data.get("op", "="),
            value=data.get("value", ""),
            duration=data.get("duration", "1h"),
            ends_at=data.get("ends_at", "").strip(),
            comment=data.get("comment", ""),
        )

    def lines(self) -> list[str]:
        """Each matcher as written: the non-blank lines, then the label/value row."""
        lines = [line.strip() for line in self.matchers.splitlines() if line.strip()]
        if self.label:
            lines.append(f"{self.label}{self.op}{_quoted(self.value)}")
        return lines

    @property
    def empty(self) -> bool:
        return not self.lines()


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def form_matchers(form: SilenceForm) -> list[Matcher] | tuple[str, str]:
    """The matchers the form names, or ("matchers" / "label" / "op", why)."""
    if form.label and form.op not in OPERATORS:
        return "op", f"operator must be one of {' '.join(OPERATORS)}"
    if form.value and not form.label:
        return "label", "give the label the value is for"
    lines = form.lines()
    if not lines:
        return "matchers", 'give at least one matcher, e.g. service=api or alertname=~"Disk.*"'
    if len(lines) > MAX_LINES:
        return "matchers", f"at most {MAX_LINES} matchers"
    out: list[Matcher] = []
    for number, line in enumerate(lines, 1):
        if "\0" in line:
            if form.label and number == len(lines):  # the label/value row
                return ("value" if "\0" in form.value else "label"), "must not contain NUL"
            return "matchers", f"line {number}: must not contain the NUL character"
        try:
            out.extend(parse_matchers(line))
        except MatcherError as exc:
            where = "label" if form.label and number == len(lines) else "matchers"
            return where, f"line {number}: {exc}" if where == "matchers" else str(exc)
    return out


def custom_end(text: str, zone: ZoneInfo) -> datetime | tuple[str, str]:
    """A datetime-local value (the viewer's wall time) or an ISO time with an offset."""
    if not text:
        return "ends_at", "give the end time for a custom duration"
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return "ends_at", f"{text[:40]!r} is not a date and time (2026-03-29T14:30)"
    try:
        return local_to_utc(value, zone) if value.tzinfo is None else value
    except (OverflowError, ValueError):
        return "ends_at", "too far from today"


def silence_request(form: SilenceForm, zone: ZoneInfo) -> SilenceIn | tuple[str, str]:
    """The API's request for this form: validated by the same model, so the page refuses
    what the API refuses, with the form's own field names."""
    matchers = form_matchers(form)
    if isinstance(matchers, tuple):
        return matchers
    body: dict[str, object] = {"matchers": [str(m) for m in matchers], "comment": form.comment}
    if form.duration == CUSTOM:
        end = custom_end(form.ends_at, zone)
        if isinstance(end, tuple):
            return end
        body["ends_at"] = end
    elif form.duration in DURATIONS:
        body["duration"] = form.duration
    else:
        return "duration", f"choose one of {', '.join(DURATIONS)} or {CUSTOM}"
    try:
        return SilenceIn.model_validate(body)
    except ValidationError as exc:
        first = validation_errors(exc.errors())[0]
        return form_field(first["field"], form.duration == CUSTOM), first["detail"]


def form_field(api_field: str, custom: bool = False) -> str:
    """The form field for a SilenceIn field ("matchers.0" -> "matchers")."""
    name = api_field.split(".")[0]
    if name in ("ends_at", "duration", "starts_at"):
        return "ends_at" if custom else "duration"
    return name if name in ("matchers", "comment") else "matchers"
