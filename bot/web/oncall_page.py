"""/oncall: for each schedule, who is on call now, until when, and the next hand-offs
(overrides marked), in the viewer's time zone with UTC on hover. `?at=` shows another
instant (a time without a zone is the viewer's wall time), `?handoffs=N` how many."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response

from bot.http.fields import CALENDAR, within_calendar
from bot.web.auth import PageViewer, runtime
from bot.web.templating import render, render_error, viewer_zone
from routing.basics.clock import local_to_utc
from routing.oncall.board import next_change, oncall_board

router = APIRouter(include_in_schema=False)  # pages, not the REST API
DEFAULT_HANDOFFS = 3
MAX_HANDOFFS = 20
# Refresh no later than this after a hand-off passes, whatever the live stream says.
MAX_REFRESH_SECONDS = 60
LOCAL_FIELD = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?")


@dataclass(frozen=True, slots=True)
class OncallQuery:
    at: datetime | None  # None: now
    handoffs: int


class InvalidQuery(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def parse_query(at: str | None, handoffs: str | None, zone: ZoneInfo) -> OncallQuery:
    """The page's query, or InvalidQuery naming the field. Pure."""
    count = DEFAULT_HANDOFFS
    if handoffs not in (None, ""):
        digits = handoffs.strip()
        if not (digits.isascii() and digits.isdigit() and len(digits) < 10) or not (
            0 <= int(digits) <= MAX_HANDOFFS
        ):
            raise InvalidQuery("handoffs", f"must be a whole number from 0 to {MAX_HANDOFFS}")
        count = int(handoffs)
    text = (at or "").strip()
    if not text or text == "now":
        return OncallQuery(None, count)
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidQuery(
            "at", f"{text[:40]!r} is not a date and time (e.g. 2026-03-29T09:00)"
        ) from None
    try:
        instant = local_to_utc(value, zone) if value.tzinfo is None else value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise InvalidQuery("at", f"must be {CALENDAR}") from None
    if not within_calendar(instant):
        raise InvalidQuery("at", f"must be {CALENDAR}")
    return OncallQuery(instant, count)


def field_value(at: datetime | None, zone: ZoneInfo) -> str:
    """`at` as an <input type="datetime-local"> takes it: the viewer's wall time,
    YYYY-MM-DDTHH:MM (browsers drop any other text, a `Z` or an offset included). Pure."""
    return "" if at is None else at.astimezone(zone).strftime("%Y-%m-%dT%H:%M")


def _query_string(query: OncallQuery) -> str:
    params: dict[str, Any] = {}
    if query.at is not None:
        params["at"] = query.at.strftime("%Y-%m-%dT%H:%M:%SZ")
    if query.handoffs != DEFAULT_HANDOFFS:
        params["handoffs"] = query.handoffs
    return urlencode(params)


@router.get("/oncall")
def oncall_page(
    request: Request,
    viewer: PageViewer,
    at: str | None = None,
    handoffs: str | None = None,
    section: str | None = None,
) -> Response:
    rt = runtime(request)
    zone = viewer_zone(rt, viewer)
    fragment = section == "oncall"
    if section not in (None, "oncall"):
        return render_error(request, 422, "section: must be oncall")
    try:
        query = parse_query(at, handoffs, zone)
        now = rt.clock()
        instant = query.at or now
        boards = oncall_board(rt.settings.schedules, instant, query.handoffs)
    except (InvalidQuery, OverflowError) as exc:
        field = exc.field if isinstance(exc, InvalidQuery) else "at"
        message = (
            str(exc)
            if isinstance(exc, InvalidQuery)
            else ("at: too far from today to work out the rotations")
        )
        if fragment:
            return render_error(request, 422, message)
        # The field keeps only what it can show; the banner quotes what was typed.
        typed = (at or "").strip()
        kept = typed if LOCAL_FIELD.fullmatch(typed) else ""
        failed = {"error": message, "invalid": field, "at_text": kept, "handoffs": handoffs}
        return render(request, "oncall.html", {**failed, "zone": zone}, 422)
    changes = next_change(boards)
    refresh = MAX_REFRESH_SECONDS
    if query.at is None and changes is not None:
        # Soon after the next hand-off, so "on call now" never stays wrong for long.
        refresh = max(5, min(MAX_REFRESH_SECONDS, int((changes - now).total_seconds()) + 1))
    context: dict[str, Any] = {
        "boards": boards,
        "instant": instant,
        "live": query.at is None,
        "query": query,
        "query_string": _query_string(query),
        "refresh": refresh,
        "next_change": changes,
        "zone": zone,
        "at_text": field_value(query.at, zone),
        "handoffs": query.handoffs,
    }
    return render(request, "oncall/_board.html" if fragment else "oncall.html", context)
