"""The incident list (`GET /`, `GET /incidents`) and its actions: acknowledge or resolve the
selected incidents (`POST /incidents/ack`, `POST /incidents/resolve`).

Filters live in the query string so a link or a reload shows the same list; the actions
carry them back as hidden fields, so the answer (a 303 to the list, or the re-rendered
section for htmx) keeps them. Every change goes through bot.http.api.change_incident,
the same path as the REST API, and is recorded under the logged-in person's name.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from bot.config.identities import Principal
from bot.http.api import change_incident
from bot.http.api import runtime as _rt
from bot.http.fields import MAX_ROW_ID
from bot.runtime.state import Runtime
from bot.web.auth import PageResponder, PageViewer
from bot.web.templating import render, render_error
from routing.response import incidents
from routing.response.incident_overview import MAX_LIMIT as MAX_IDS
from routing.response.incident_overview import (
    SEVERITIES,
    STATUSES,
    InvalidFilter,
    OverviewFilter,
    load_overview,
    parse_filter,
)

router = APIRouter(include_in_schema=False)
OUTCOMES = ("acked", "resolved", "already", "notfound")
ACTIONS = {"ack": "acked", "resolve": "resolved"}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a bulk action did to each id, in the order given."""

    action: str
    by_kind: dict[str, list[int]]

    def query(self) -> dict[str, str]:
        return {k: ",".join(map(str, v)) for k, v in self.by_kind.items() if v}


def _viewer_name(viewer: Principal) -> str:
    """Whose incidents "mine" means: the person (pages name users), else the name acks
    are recorded under (open access acts as "api")."""
    return viewer.user or viewer.name


def filter_query(flt: OverviewFilter) -> dict[str, str]:
    """The filter as query parameters, defaults left out (shortest stable URL)."""
    out: dict[str, str] = {}
    if flt.status != "open":
        out["status"] = flt.status
    if flt.service:
        out["service"] = flt.service
    if flt.severity:
        out["severity"] = flt.severity
    if flt.mine:
        out["mine"] = "1"
    if flt.limit != OverviewFilter().limit:
        out["limit"] = str(flt.limit)
    return out


def _ids_param(value: str | None) -> list[int]:
    """A result parameter of the redirect ("3,4"): only numbers are kept (it is shown)."""
    return [
        int(p) for p in (value or "").split(",") if p.isascii() and p.isdigit() and len(p) < 19
    ][:MAX_IDS]


def _outcome_from_query(request: Request) -> Outcome | None:
    action = request.query_params.get("done")
    if action not in ACTIONS:
        return None
    found = {k: _ids_param(request.query_params.get(k)) for k in OUTCOMES}
    return Outcome(action, found)


def _invalid(request: Request, exc: InvalidFilter) -> Response:
    """422 naming the field: the page with the error banner and the filter form (htmx: the
    error fragment into #flash)."""
    message = f"Invalid {exc.field}: {exc.message}."
    if request.headers.get("HX-Request") == "true":
        return render_error(request, 422, message)
    context = {"error": message, "invalid": exc, "filter_fields": {}, "flt": OverviewFilter()}
    return render(request, "incidents.html", context | _choices(), status_code=422)


def _choices() -> dict[str, Any]:
    return {"statuses": STATUSES, "severities": SEVERITIES}


def _list_context(
    request: Request, viewer: Principal, flt: OverviewFilter, outcome: Outcome | None
) -> dict[str, Any]:
    rt = _rt(request)
    with rt.engine.connect() as conn:
        overview = load_overview(conn, flt, _viewer_name(viewer))
    return {
        "overview": overview,
        "flt": flt,
        "filter_qs": urlencode(filter_query(flt)),
        "filter_fields": filter_query(flt),
        "outcome": outcome,
        "invalid": None,
    } | _choices()


@router.get("/")
@router.get("/incidents")
def incident_list(
    request: Request,
    viewer: PageViewer,
    status: str | None = None,
    service: str | None = None,
    severity: str | None = None,
    mine: str | None = None,
    limit: str | None = None,
    section: str | None = None,
) -> Response:
    started, cpu_started = time.perf_counter(), time.thread_time()
    try:
        flt = parse_filter(status, service, severity, mine, limit)
    except InvalidFilter as exc:
        return _invalid(request, exc)
    if section not in (None, "", "list"):
        return _invalid(request, InvalidFilter("section", "the only section is list"))
    context = _list_context(request, viewer, flt, _outcome_from_query(request))
    queried = time.perf_counter()
    template = "incidents/_list.html" if section == "list" else "incidents.html"
    response = render(request, template, context)
    done = time.perf_counter()
    # Server time of this page (the benchmark reads it): wall time of the query and the
    # render, and this thread's CPU time, which a busy machine's run queue does not inflate.
    response.headers["Server-Timing"] = (
        f"db;dur={(queried - started) * 1000:.2f}, "
        f"render;dur={(done - queried) * 1000:.2f}, total;dur={(done - started) * 1000:.2f}, "
        f"cpu;dur={(time.thread_time() - cpu_started) * 1000:.2f}"
    )
    return response


def _parse_ids(values: list[str]) -> list[int]:
    ids: list[int] = []
    for value in values:
        number = int(value) if value.isascii() and value.isdigit() and len(value) < 19 else 0
        if not 1 <= number <= MAX_ROW_ID:
            raise InvalidFilter("ids", f"{value[:20]!r} is not an incident number")
        if number not in ids:
            ids.append(number)
    if not ids:
        raise InvalidFilter("ids", "select at least one incident")
    if len(ids) > MAX_IDS:
        raise InvalidFilter("ids", f"at most {MAX_IDS} incidents at once")
    return ids


def apply_to_many(rt: Runtime, actor: str, action: str, ids: list[int]) -> Outcome:
    """Each id in its own transaction: one already acknowledged does not undo the others."""
    found: dict[str, list[int]] = {k: [] for k in OUTCOMES}
    for incident_id in ids:
        try:
            change_incident(rt, actor, incident_id, action)
        except incidents.IncidentNotFound:
            found["notfound"].append(incident_id)
        except incidents.InvalidTransition:
            found["already"].append(incident_id)
        else:
            found[ACTIONS[action]].append(incident_id)
    return Outcome(action, found)


async def _act(request: Request, actor: Principal, action: str) -> Response:
    form = await request.form()
    fields = {k: str(form.get(k) or "") for k in ("status", "service", "severity", "mine", "limit")}
    try:
        flt = parse_filter(**fields)
        ids = _parse_ids([str(v) for v in form.getlist("ids")])
    except InvalidFilter as exc:
        return _invalid(request, exc)
    rt = _rt(request)
    # change_incident is blocking (database + hooks): off the event loop.
    # change_incident runs the incident_changed hooks, which tick the live pages.
    outcome = await run_in_threadpool(apply_to_many, rt, actor.name, action, ids)
    if request.headers.get("HX-Request") == "true":
        context = await run_in_threadpool(_list_context, request, actor, flt, outcome)
        return render(request, "incidents/_list.html", context)
    query = filter_query(flt) | {"done": action} | outcome.query()
    return RedirectResponse("/?" + urlencode(query), status_code=303)


@router.post("/incidents/ack")
async def acknowledge_selected(request: Request, actor: PageResponder) -> Response:
    return await _act(request, actor, "ack")


@router.post("/incidents/resolve")
async def resolve_selected(request: Request, actor: PageResponder) -> Response:
    return await _act(request, actor, "resolve")
