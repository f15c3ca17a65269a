"""What people do from the incident page: acknowledge, resolve, add a note, silence,
run or dry-run a playbook, cancel a run, approve or reject a step.

Every action is a real form (POST, then 303 back to the page without JavaScript; with
htmx the changed sections come back marked out-of-band). Each is recorded as the
logged-in person (PageResponder: CSRF checked, responder role), through the same
service functions as the REST API and chat, and ticks the live stream.
Refusals: 404 unknown incident or run, 409 against the current state (already
acknowledged, nothing awaits approval), 403 not permitted, 422 naming the field.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from bot.commands.context import Actor
from bot.commands.model import SilenceAlerts
from bot.commands.silences import silence_alerts
from bot.config.identities import Principal
from bot.http.api import change_incident, incident_changed, runtime
from bot.http.fields import CALENDAR, within_calendar
from bot.web import live
from bot.web.auth import PageResponder
from bot.web.incident_page import BadInput, incident_number, render_page, render_sections, row_id
from bot.web.incident_view import playbook_service
from bot.web.templating import render_error
from playbooks.approvals_service import decision_text
from playbooks.service import PlaybookRefused, PlaybookService, plain
from routing.basics.duration import DurationError, format_duration, parse_duration
from routing.response import incidents

router = APIRouter(include_in_schema=False)

UTC_ZONE = ZoneInfo("UTC")  # the timeline text; the page shows times in the viewer's zone

SILENCE_CHOICES = ("30m", "1h", "4h")
NOTE_MAX = 2000  # the timeline's message column keeps this much
COMMENT_MAX = 1000
# What a playbook action changes: the sections re-sent and the live topics ticked.
RUN_PARTS = ("runs", "timeline")
RUN_TOPICS = ("incidents", "runs")
DECISIONS = {"approve": "approved", "reject": "rejected"}


class Refused(Exception):
    """An action refused: the HTTP status and the message people read."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


async def act(
    request: Request,
    viewer: Principal,
    incident_text: str,
    sections: tuple[str, ...],
    work: Callable[[int, FormData], Any],
    topics: tuple[str, ...] = ("incidents",),
) -> Response:
    """Run one action for the incident in the path and answer it: 303 to the page (no
    JavaScript) or the changed sections out-of-band (htmx); a refusal re-renders the
    page with a banner (no JavaScript) or an error fragment (htmx), with its status."""
    incident_id = incident_number(incident_text)
    if incident_id is None:
        return render_error(request, 404, f"no incident #{incident_text}")
    form = await request.form()
    try:
        if asyncio.iscoroutinefunction(work):
            outcome = await work(incident_id, form)
        else:  # database work: off the event loop
            outcome = await asyncio.to_thread(work, incident_id, form)
    except incidents.IncidentNotFound as exc:
        return render_error(request, 404, str(exc))
    except Refused as exc:
        return refused(request, incident_id, viewer, exc.status, exc.message)
    except BadInput as exc:
        return refused(request, incident_id, viewer, 422, f"{exc.field}: {exc.message}")
    except PlaybookRefused as exc:
        return refused(request, incident_id, viewer, exc.status, f"{exc.field}: {exc.message}")
    except incidents.InvalidTransition as exc:
        return refused(request, incident_id, viewer, 409, str(exc))
    live.changed(runtime(request), *topics)
    extra = outcome if isinstance(outcome, dict) else {}
    if htmx(request):
        return render_sections(request, incident_id, viewer, sections, oob=True, extra=extra)
    if extra.get("show"):  # a dry-run: nothing changed, its result is the answer
        return render_page(request, incident_id, viewer, extra=extra)
    return RedirectResponse(f"/incidents/{incident_id}", status_code=303)


def refused(
    request: Request, incident_id: int, viewer: Principal, status: int, message: str
) -> Response:
    if htmx(request):
        return render_error(request, status, message)
    try:
        return render_page(request, incident_id, viewer, status_code=status, error=message)
    except incidents.IncidentNotFound:
        return render_error(request, 404, f"no incident #{incident_id}")


def text_field(form: FormData, name: str, limit: int, *, required: bool = False) -> str:
    value = form.get(name)
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise BadInput(name, "must not be empty")
    if len(text) > limit:
        raise BadInput(name, f"must be at most {limit} characters (got {len(text)})")
    if "\x00" in text:
        raise BadInput(name, "must not contain NUL characters")
    return text


def silence_length(form: FormData) -> timedelta:
    """30m / 1h / 4h from the button pressed, or the custom duration typed."""
    chosen = form.get("duration")
    if chosen in SILENCE_CHOICES:
        return parse_duration(str(chosen))
    if chosen != "custom":
        raise BadInput("duration", f"choose one of {', '.join(SILENCE_CHOICES)} or custom")
    text = text_field(form, "custom", 40, required=True)
    try:
        length = parse_duration(text)
    except DurationError as exc:
        raise BadInput("custom", f"{exc} (write e.g. 30m, 2h, 1d)") from None
    if length <= timedelta(0):
        raise BadInput("custom", "must be longer than 0s")
    return length


def _service(request: Request) -> PlaybookService:
    found = playbook_service(runtime(request))
    if found is None:
        raise Refused(404, "playbooks are not configured in this process")
    return found


# -- the incident ------------------------------------------------------------------------


@router.post("/incidents/{incident_id}/ack")
async def ack(request: Request, viewer: PageResponder, incident_id: str) -> Response:
    def work(number: int, _form: FormData) -> None:
        change_incident(runtime(request), viewer.name, number, "ack")

    return await act(request, viewer, incident_id, ("status", "timeline", "escalation"), work)


@router.post("/incidents/{incident_id}/resolve")
async def resolve(request: Request, viewer: PageResponder, incident_id: str) -> Response:
    def work(number: int, form: FormData) -> None:
        note = text_field(form, "note", NOTE_MAX) or None
        change_incident(runtime(request), viewer.name, number, "resolve", note)

    sections = ("status", "alerts", "timeline", "escalation")
    return await act(request, viewer, incident_id, sections, work)


@router.post("/incidents/{incident_id}/note")
async def note(request: Request, viewer: PageResponder, incident_id: str) -> Response:
    def work(number: int, form: FormData) -> dict[str, Any]:
        text = text_field(form, "text", NOTE_MAX, required=True)
        rt = runtime(request)
        with rt.engine.begin() as conn:
            incidents.add_note(conn, number, viewer.name, rt.clock(), text)
        incident_changed(rt, number, "note")
        return {"note_sent": True}  # the note form comes back empty

    return await act(request, viewer, incident_id, ("timeline",), work)


@router.post("/incidents/{incident_id}/silence")
async def silence(request: Request, viewer: PageResponder, incident_id: str) -> Response:
    def work(number: int, form: FormData) -> dict[str, Any]:
        length = silence_length(form)
        comment = text_field(form, "comment", COMMENT_MAX)
        rt = runtime(request)
        now = rt.clock()
        try:
            ends_ok = within_calendar(now + length)
        except OverflowError:
            ends_ok = False
        if not ends_ok:
            raise BadInput("custom", f"the silence must end {CALENDAR}")
        command = SilenceAlerts((), length, comment or "from the incident page", number)
        with rt.engine.begin() as conn:
            reply = silence_alerts(conn, command, Actor(viewer.name, "cli"), now, UTC_ZONE)
        incident_changed(rt, number, "silence")
        return {"flash": reply.text or f"silenced for {format_duration(length)}"}

    return await act(
        request, viewer, incident_id, ("status", "timeline", "escalation"), work,
        ("incidents", "silences"),
    )  # fmt: skip


# -- playbooks -----------------------------------------------------------------------------


@router.post("/incidents/{incident_id}/playbooks/{playbook}")
async def run_playbook(
    request: Request, viewer: PageResponder, incident_id: str, playbook: str
) -> Response:
    async def work(number: int, form: FormData) -> dict[str, Any]:
        service = _service(request)
        params = {
            key.removeprefix("param."): value.strip()
            for key, value in form.multi_items()
            if key.startswith("param.") and isinstance(value, str) and value.strip()
        }
        if form.get("mode") == "dry-run":
            result = await service.dry_run(number, playbook, params, viewer.name)
            return {"show": True, "dry_run": plain(result)}
        run = await asyncio.to_thread(service.start, number, playbook, params, viewer.name)
        return {"flash": f"started run {run['id']} of {playbook}"}

    return await act(request, viewer, incident_id, ("playbooks", *RUN_PARTS), work, RUN_TOPICS)


@router.post("/incidents/{incident_id}/runs/{run_id}/cancel")
async def cancel_run(
    request: Request, viewer: PageResponder, incident_id: str, run_id: str
) -> Response:
    def work(number: int, _form: FormData) -> dict[str, Any]:
        run = _own_run(request, number, run_id)
        _service(request).cancel(run, viewer.name)
        return {"flash": f"cancel of run {run} requested"}

    return await act(request, viewer, incident_id, RUN_PARTS, work, RUN_TOPICS)


def _own_run(request: Request, incident_id: int, run_text: str) -> int:
    """The run id from the path, if it is a run of this incident (404 otherwise)."""
    run_id = row_id(run_text, "run_id")
    if run_id is None:
        raise BadInput("run_id", "missing")
    try:
        run = _service(request).run(run_id)
    except PlaybookRefused as exc:
        raise Refused(404, exc.message) from None
    if run["incident_id"] != incident_id:
        raise Refused(404, f"playbook run {run_id} is not a run of incident #{incident_id}")
    return run_id


@router.post("/incidents/{incident_id}/runs/{run_id}/{verb}")
async def decide(
    request: Request, viewer: PageResponder, incident_id: str, run_id: str, verb: str
) -> Response:
    """Approve or reject the step awaiting this person's approval."""
    decision = DECISIONS.get(verb)
    if decision is None:
        return render_error(request, 404, f"no action {verb[:20]!r} on a run")

    async def work(number: int, form: FormData) -> dict[str, Any]:
        run = _own_run(request, number, run_id)
        step = text_field(form, "step", 64) or None
        comment = text_field(form, "comment", COMMENT_MAX)
        rt = runtime(request)
        result = await asyncio.to_thread(
            _service(request).decide, run, decision, viewer.user, rt.settings,
            step_id=step, comment=comment, surface="web",
        )  # fmt: skip
        return {"flash": decision_text(result)}

    return await act(request, viewer, incident_id, ("approvals", *RUN_PARTS), work, RUN_TOPICS)
