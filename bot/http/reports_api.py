"""REST API for reports and postmortems (reading: the viewer role).

  GET /api/v1/reports?days=7 | from=…&to=…   MTTA/MTTR, incidents per day, noisiest alerts
  GET /api/v1/incidents/{id}/postmortem?format=md|json

The figures are computed by routing.response.reports from the rows report_store reads;
the postmortem by routing.response.postmortem from the incident, its pages and its
playbook runs with their approvals, which this layer reads through the playbooks
package (routing cannot import it). The CLI and the web page call `load_report`,
`load_postmortem` and `postmortem_response` too, so every surface shows the same thing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from bot.http.api import IncidentId, runtime
from bot.http.fields import UtcInstant
from bot.http.identity import Reader
from bot.http.problem_docs import openapi_problems
from bot.runtime.state import Runtime
from playbooks.approval_store import decisions
from playbooks.incident_view import incident_url
from playbooks.run_store import list_runs
from routing.response import report_store
from routing.response.incidents import IncidentNotFound, get_incident
from routing.response.postmortem import build_postmortem, render_markdown
from routing.response.reports import MAX_DAYS, PeriodError, choose_period

router = APIRouter(tags=["reports"])

MAX_RUNS = 100  # playbook runs of one incident a postmortem lists


def load_report(
    rt: Runtime,
    *,
    days: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    top: int = 10,
) -> dict[str, Any]:
    """The report for the period asked for (PeriodError names a bad field)."""
    now = rt.clock()
    period = choose_period(now, days=days, start=start, end=end)
    with rt.read_engine.connect() as conn:
        return report_store.load_report(conn, period, now, top)


def incident_runs(conn: Any, incident_id: int) -> list[dict[str, Any]]:
    """The incident's playbook runs (oldest first) with each gated step's decisions, as
    plain data for routing.response.postmortem."""
    runs = list_runs(conn, incident_id, limit=MAX_RUNS)
    shown = []
    for run in reversed(runs):
        approvals = [
            {**decision, "step_id": step["step_id"]}
            for step in run["steps"]
            if step.get("request_hash")  # a step that asked for approval
            for decision in decisions(conn, step["id"])
        ]
        shown.append({**run, "approvals": approvals})
    return shown


def load_postmortem(rt: Runtime, incident_id: int) -> dict[str, Any]:
    """The postmortem document of one incident (IncidentNotFound when there is none)."""
    now = rt.clock()
    with rt.read_engine.connect() as conn:
        incident = get_incident(conn, incident_id, now=now)
        pages = report_store.incident_pages(conn, incident_id)
        runs = incident_runs(conn, incident_id)
    return build_postmortem(
        incident,
        pages,
        runs,
        now=now,
        secrets=rt.settings.secret_values(),
        link=incident_url(rt.settings.public_url, incident_id) or None,
    )


def postmortem_filename(incident_id: int, fmt: str) -> str:
    return f"incident-{incident_id}-postmortem.{fmt}"


def postmortem_response(doc: dict[str, Any], fmt: Literal["md", "json"]) -> Response:
    """The document as a download: Markdown (text/markdown) or JSON."""
    disposition = {
        "Content-Disposition": (
            f'attachment; filename="{postmortem_filename(doc["incident"]["id"], fmt)}"'
        )
    }
    if fmt == "json":
        return JSONResponse(doc, headers=disposition)
    return Response(
        render_markdown(doc), media_type="text/markdown; charset=utf-8", headers=disposition
    )


def _period_error(exc: PeriodError) -> RequestValidationError:
    return RequestValidationError([{"loc": ("query", exc.field), "msg": exc.message}])


_REPORT_EXAMPLE = {
    "period": {"from": "2026-11-29T10:00:00+00:00", "to": "2026-12-06T10:00:00+00:00"},
    "totals": {"opened": 12, "acknowledged": 9, "resolved": 11, "open": 1},
    "overall": {
        "mtta": {"count": 9, "median_s": 240.0, "p90_s": 900.0},
        "mttr": {"count": 11, "median_s": 2700.0, "p90_s": 9000.0},
    },
}


@router.get(
    "/api/v1/reports",
    responses={
        200: {
            "description": (
                "Figures over the incidents opened in the period: `totals`, `overall`, "
                "`by_service` and `by_severity` (incidents, acknowledged, resolved, open, "
                "resolved_without_ack, mtta and mttr as {count, median_s, p90_s}: "
                "linear-interpolated percentiles; MTTA leaves out incidents nobody "
                "acknowledged, MTTR the open ones), `per_day` (UTC days) and `noisiest` "
                "(`by_occurrences`, `by_flaps`)"
            ),
            "content": {"application/json": {"example": _REPORT_EXAMPLE}},
        },
        **openapi_problems(422),
    },
)
def get_report(
    request: Request,
    _caller: Reader,
    days: Annotated[int | None, Query(ge=1, le=MAX_DAYS, description="the last N days")] = None,
    start: Annotated[
        UtcInstant | None,
        Query(alias="from", description="start (ISO 8601, no zone means UTC; default to - 7d)"),
    ] = None,
    end: Annotated[
        UtcInstant | None, Query(alias="to", description="end, exclusive (default now)")
    ] = None,
    top: Annotated[int, Query(ge=1, le=report_store.MAX_TOP, description="noisiest")] = 10,
) -> dict[str, Any]:
    """MTTA and MTTR (median, p90) per service and severity, incidents per UTC day, the
    noisiest alerts and overall counts, over `days` (default 7) or `from`/`to` (at most
    366 days)."""
    try:
        return load_report(runtime(request), days=days, start=start, end=end, top=top)
    except PeriodError as exc:
        raise _period_error(exc) from None


@router.get(
    "/api/v1/incidents/{incident_id}/postmortem",
    tags=["incidents"],
    response_model=None,
    responses={
        200: {
            "description": "The postmortem: Markdown (`format=md`, a download) or JSON",
            "content": {
                "text/markdown": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "object"}},
            },
        },
        **openapi_problems(404, 422),
    },
)
def get_postmortem(
    request: Request,
    _caller: Reader,
    incident_id: IncidentId,
    fmt: Annotated[
        Literal["md", "json"], Query(alias="format", description="md (default) or json")
    ] = "md",
) -> Response:
    """A postmortem draft of the incident: summary, impact window, response times, alerts,
    who was paged and who acted, playbook runs and approvals, the timeline (UTC), and
    headings for the causes and actions, to be filled in."""
    try:
        doc = load_postmortem(runtime(request), incident_id)
    except IncidentNotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    return postmortem_response(doc, fmt)
