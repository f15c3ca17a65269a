"""The incident page every notification links to: `GET /incidents/{id}`.

Sections (status, alerts, timeline, escalation, playbooks, runs, approvals) are partials
of their own; `?section=<name>` returns one (what a live tick re-fetches). The timeline
is newest first, 50 at a time: `?before=<id>` pages without JavaScript, and an open page
that loaded older entries refreshes with `since=<oldest id shown>`, so it keeps them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from bot.config.identities import Principal
from bot.http.api import runtime
from bot.http.fields import MAX_ROW_ID
from bot.web.auth import PageViewer
from bot.web.incident_view import SECTION_TOPICS, SECTIONS, section_context
from bot.web.templating import render, render_error
from routing.response.incidents import IncidentNotFound

router = APIRouter(include_in_schema=False)

TIMELINE_ARGS = ("before", "since", "extend")
# "runs" and "approvals" are read together (approvals are runs' steps).
PARTS = {name: (name,) for name in SECTIONS} | {
    "runs": ("runs", "approvals"),
    "approvals": ("runs", "approvals"),
}


class BadInput(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def row_id(text: str | None, field: str) -> int | None:
    """A positive row id from the URL, or None when absent; BadInput naming the field."""
    if text is None or text == "":
        return None
    if (
        not text.isascii()
        or not text.isdigit()
        or len(text) > 19
        or not 1 <= int(text) <= MAX_ROW_ID
    ):
        raise BadInput(field, f"{field} must be a whole number from 1 to {MAX_ROW_ID}")
    return int(text)


def incident_number(text: str) -> int | None:
    """The path's id; None for anything no incident can have (404, not 422 or 500)."""
    try:
        return row_id(text, "incident id")
    except BadInput:
        return None


def timeline_args(query: Mapping[str, str]) -> dict[str, int | None]:
    args = {name: row_id(query.get(name), name) for name in TIMELINE_ARGS}
    if sum(value is not None for value in args.values()) > 1:
        raise BadInput("before", "give at most one of before, since and extend")
    return args


def not_found(request: Request, text: str) -> Response:
    return render_error(request, 404, f"no incident #{text}")


def page_context(
    request: Request,
    incident_id: int,
    viewer: Principal,
    names: tuple[str, ...] = SECTIONS,
    timeline: Mapping[str, int | None] | None = None,
) -> dict[str, Any]:
    context = section_context(runtime(request), incident_id, viewer, names, timeline)
    context["topics"] = SECTION_TOPICS
    context["page_path"] = f"/incidents/{incident_id}"
    return context


def render_page(
    request: Request,
    incident_id: int,
    viewer: Principal,
    *,
    status_code: int = 200,
    error: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Response:
    """The whole page (also the no-JavaScript answer to a refused action: the banner
    names what went wrong, with its 4xx status)."""
    context = page_context(request, incident_id, viewer)
    context["error"] = error
    context.update(extra or {})
    return render(request, "incident.html", context, status_code=status_code)


def render_sections(
    request: Request,
    incident_id: int,
    viewer: Principal,
    names: tuple[str, ...],
    *,
    oob: bool = False,
    extra: Mapping[str, Any] | None = None,
    timeline: Mapping[str, int | None] | None = None,
) -> HTMLResponse:
    """The named sections' partials, one after the other. `oob`: each marked to swap
    into its own place (the answer to an htmx action, whose form swaps nothing)."""
    wanted: tuple[str, ...] = ()
    for name in names:
        wanted += tuple(part for part in PARTS[name] if part not in wanted)
    context = page_context(request, incident_id, viewer, wanted, timeline)
    context.update(extra or {})
    context["oob"] = oob
    context["shown_sections"] = names
    return render(request, "incident/_sections.html", context)


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(request: Request, viewer: PageViewer, incident_id: str) -> Response:
    number = incident_number(incident_id)
    if number is None:
        return not_found(request, incident_id)
    section = request.query_params.get("section")
    try:
        timeline = timeline_args(request.query_params)
        if section is not None and section not in SECTIONS:
            raise BadInput("section", f"section must be one of {', '.join(SECTIONS)}")
    except BadInput as exc:
        return render_error(request, 422, f"{exc.field}: {exc.message}")
    try:
        if section is not None:
            return render_sections(request, number, viewer, (section,), timeline=timeline)
        context = page_context(request, number, viewer, SECTIONS, timeline)
    except IncidentNotFound:
        return not_found(request, incident_id)
    context["error"] = None
    return render(request, "incident.html", context)
