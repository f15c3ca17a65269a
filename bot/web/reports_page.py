"""/reports: MTTA and MTTR per service and severity, incidents per UTC day (a bar chart
drawn as inline SVG on the server, with the same figures in a table), the noisiest and
most flapping alerts. The period is a GET form (`days`, or `from`/`to` dates in UTC).

Also the postmortem download for the incident page's export link:
`/incidents/{id}/postmortem?format=md|json`, under the page's own login (the REST route
wants a bearer token a browser does not send). Both call bot.http.reports_api, as the
REST API and the CLI do."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from bot.http.fields import CALENDAR, MAX_ROW_ID, within_calendar
from bot.http.reports_api import load_postmortem, load_report, postmortem_response
from bot.web.auth import PageViewer, runtime
from bot.web.templating import render, render_error
from routing.response.incidents import IncidentNotFound
from routing.response.reports import DEFAULT_DAYS, MAX_DAYS, PeriodError

router = APIRouter(include_in_schema=False)  # pages, not the REST API
DAY_CHOICES = (1, 7, 14, 30, 90, 365)
CHART_WIDTH, CHART_HEIGHT = 720, 180


@dataclass(frozen=True, slots=True)
class ReportQuery:
    days: int | None
    start: datetime | None
    end: datetime | None
    # As typed, to fill the form again.
    from_text: str = ""
    to_text: str = ""


def _instant(text: str, name: str, *, end: bool) -> datetime:
    """A date (a whole UTC day: `to` includes it) or a date and time, no zone = UTC."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime.combine(day, time(), tzinfo=UTC)
            value = moment + timedelta(days=1) if end else moment
        else:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        raise PeriodError(name, f"{text[:40]!r} is not a date (e.g. 2026-12-01)") from None
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    if not within_calendar(value):
        raise PeriodError(name, f"must be {CALENDAR}")
    return value


def parse_query(days: str | None, start: str | None, end: str | None) -> ReportQuery:
    """The form's period, or PeriodError naming the field. Pure."""
    from_text, to_text = (start or "").strip(), (end or "").strip()
    if from_text or to_text:
        return ReportQuery(
            None,
            _instant(from_text, "from", end=False) if from_text else None,
            _instant(to_text, "to", end=True) if to_text else None,
            from_text,
            to_text,
        )
    if days in (None, ""):
        return ReportQuery(DEFAULT_DAYS, None, None)
    digits = days.strip()
    if not (digits.isascii() and digits.isdigit() and len(digits) < 10) or not (
        1 <= int(digits) <= MAX_DAYS
    ):
        raise PeriodError("days", f"must be a whole number from 1 to {MAX_DAYS}")
    return ReportQuery(int(days), None, None)


def _query_string(query: ReportQuery) -> str:
    if query.from_text or query.to_text:
        return urlencode({"from": query.from_text, "to": query.to_text})
    return urlencode({"days": query.days}) if query.days != DEFAULT_DAYS else ""


def day_chart(per_day: list[dict[str, Any]]) -> dict[str, Any]:
    """Bar geometry for incidents per day (the template draws it): x, y, width, height
    per bar, in a CHART_WIDTH x CHART_HEIGHT box, and the peak for the axis label."""
    peak = max((d["incidents"] for d in per_day), default=0)
    count = max(1, len(per_day))
    slot = CHART_WIDTH / count
    width = max(1.0, slot * 0.8)
    bars = []
    for i, d in enumerate(per_day):
        height = 0.0 if not peak else (CHART_HEIGHT - 20) * d["incidents"] / peak
        bars.append(
            {
                "x": round(i * slot + (slot - width) / 2, 2),
                "y": round(CHART_HEIGHT - height, 2),
                "width": round(width, 2),
                "height": round(height, 2),
                "day": d["day"],
                "incidents": d["incidents"],
            }
        )
    return {"bars": bars, "peak": peak, "width": CHART_WIDTH, "height": CHART_HEIGHT}


@router.get("/reports")
def reports_page(
    request: Request,
    _viewer: PageViewer,
    days: str | None = None,
    start: str | None = None,
    end: str | None = None,
    section: str | None = None,
) -> Response:
    # `from` is a keyword in Python: read it from the query by hand.
    start = request.query_params.get("from", start)
    end = request.query_params.get("to", end)
    fragment = section == "reports"
    if section not in (None, "reports"):
        return render_error(request, 422, "section: must be reports")
    rt = runtime(request)
    try:
        query = parse_query(days, start, end)
        report = load_report(rt, days=query.days, start=query.start, end=query.end)
    except PeriodError as exc:
        message = f"{exc.field}: {exc.message}"
        if fragment:
            return render_error(request, 422, message)
        failed = {
            "error": message,
            "invalid": exc.field,
            "from_text": start or "",
            "to_text": end or "",
            "days": days,
            "day_choices": DAY_CHOICES,
        }
        return render(request, "reports.html", failed, 422)
    context = {
        "report": report,
        "chart": day_chart(report["per_day"]),
        "query_string": _query_string(query),
        "days": query.days,
        "from_text": query.from_text,
        "to_text": query.to_text,
        "day_choices": DAY_CHOICES,
        "period_start": datetime.fromisoformat(report["period"]["from"]),
        "period_end": datetime.fromisoformat(report["period"]["to"]),
    }
    return render(request, "reports/_report.html" if fragment else "reports.html", context)


@router.get("/incidents/{incident_id}/postmortem")
def postmortem_download(
    request: Request, _viewer: PageViewer, incident_id: str, format: str = "md"
) -> Response:
    """The incident page's export link: the postmortem as Markdown (or JSON)."""
    ok = incident_id.isascii() and incident_id.isdigit() and len(incident_id) < 20
    if not ok or not 1 <= int(incident_id) <= MAX_ROW_ID:
        return render_error(request, 404, f"no incident #{incident_id[:20]}")
    if format not in ("md", "json"):
        return render_error(request, 422, "format: must be md or json")
    try:
        doc = load_postmortem(runtime(request), int(incident_id))
    except IncidentNotFound as exc:
        return render_error(request, 404, str(exc))
    return postmortem_response(doc, "json" if format == "json" else "md")
