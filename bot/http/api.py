"""REST API v1 (bearer tokens) and health/readiness/metrics endpoints."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from bot.config.identities import Principal
from bot.http.fields import MAX_ROW_ID, Text, UtcInstant
from bot.http.identity import Reader, RefusedActorField, Responder
from bot.http.problem_docs import openapi_problem, openapi_problems
from bot.http.readiness import readiness
from bot.runtime.state import Runtime
from routing.oncall.report import oncall_report
from routing.response import actions as response
from routing.response import incidents

router = APIRouter()


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


Severity = Literal["critical", "error", "warning", "info"]
# Larger ids cannot exist (INTEGER columns) and would overflow the query: 422, not 500.
IncidentId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]


@router.get("/healthz", tags=["health"])
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    tags=["health"],
    responses={503: openapi_problem(503, "Not ready: the database or a loop of this process")},
)
async def readyz(request: Request) -> Response:
    """Ready: the database answers within a second and every loop this process runs is
    alive and beating (bot.http.readiness); otherwise 503 naming the part at fault."""
    return await readiness(runtime(request))


@router.get("/metrics", tags=["health"], response_class=PlainTextResponse)
async def metrics(request: Request) -> Response:
    return Response(
        generate_latest(runtime(request).metrics.registry), media_type=CONTENT_TYPE_LATEST
    )


@router.get("/api/v1/alerts", tags=["alerts"])
def list_alerts(
    request: Request,
    _caller: Reader,
    status: Literal["pending", "firing", "resolved"] | None = None,
    source: Text | None = None,
    service: Text | None = None,
    severity: Severity | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    rt = runtime(request)
    flt = incidents.AlertFilter(status, source, service, severity, limit=limit, now=rt.clock())
    with rt.read_engine.connect() as conn:
        return {"items": incidents.list_alerts(conn, flt)}


@router.get("/api/v1/incidents", tags=["incidents"])
def list_incidents(
    request: Request,
    _caller: Reader,
    status: Literal["triggered", "acknowledged", "resolved", "open"] | None = None,
    service: Text | None = None,
    severity: Severity | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    with runtime(request).read_engine.connect() as conn:
        items = incidents.list_incidents(
            conn,
            status=None if status == "open" else status,
            open_only=status == "open",
            service=service,
            severity=severity,
            limit=limit,
        )
    return {"items": items}


@router.get("/api/v1/incidents/{incident_id}", tags=["incidents"], responses=openapi_problems(404))
def get_incident(request: Request, _caller: Reader, incident_id: IncidentId) -> dict[str, Any]:
    rt = runtime(request)
    with rt.read_engine.connect() as conn:
        try:
            return incidents.get_incident(conn, incident_id, now=rt.clock())
        except incidents.IncidentNotFound as exc:
            raise HTTPException(404, str(exc)) from exc


@router.get("/api/v1/oncall", tags=["oncall"], responses=openapi_problems(404))
def get_oncall(
    request: Request,
    _caller: Reader,
    schedule: Text | None = None,
    at: UtcInstant | None = None,
    handoffs: Annotated[int, Query(ge=0, le=50)] = 3,
) -> dict[str, Any]:
    """Who is on call at `at` (default now; ISO 8601, no zone means UTC) and next."""
    rt = runtime(request)
    instant = rt.clock() if at is None else at
    config = rt.settings
    if schedule is None:
        chosen = list(config.schedules)
    else:
        try:
            chosen = [config.schedule(schedule)]
        except KeyError as exc:
            raise HTTPException(404, str(exc.args[0])) from exc
    try:
        return {"items": oncall_report(chosen, instant.astimezone(UTC), handoffs)}
    except OverflowError:  # a rotation stepped from `at` runs off the calendar
        error = {"loc": ("query", "at"), "msg": "too far from today to work out the rotations"}
        raise RequestValidationError([error]) from None


class StateChange(BaseModel):
    note: Text | None = None
    actor: RefusedActorField = None  # the timeline names the caller, not the body


def change_incident(
    rt: Runtime, actor: str, incident_id: int, action: str, note: str | None = None
) -> dict[str, Any]:
    """Acknowledge or resolve as `actor`, then tell the incident_changed hooks (chat
    messages, the paging worker, live pages). Every HTTP surface (this API, the web
    page) goes through here; raises IncidentNotFound / InvalidTransition."""
    now = rt.clock()
    with rt.engine.begin() as conn:
        if action == "ack":
            result = response.acknowledge(conn, incident_id, actor, now)
        else:
            result = response.resolve(conn, incident_id, actor, now, note)
    incident_changed(rt, incident_id, action)
    return result


def incident_changed(rt: Runtime, incident_id: int, action: str) -> None:
    for hook in rt.extras.get("incident_changed", []):
        hook(incident_id, action)


def _change(
    request: Request, caller: Principal, incident_id: int, action: str, body: StateChange | None
) -> Any:
    note = body.note if body else None
    try:
        return change_incident(runtime(request), caller.name, incident_id, action, note)
    except incidents.IncidentNotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except incidents.InvalidTransition as exc:
        raise HTTPException(409, str(exc)) from exc


@router.post(
    "/api/v1/incidents/{incident_id}/ack", tags=["incidents"], responses=openapi_problems(404, 409)
)
def ack_incident(
    request: Request, caller: Responder, incident_id: IncidentId, body: StateChange | None = None
) -> dict[str, Any]:
    result: dict[str, Any] = _change(request, caller, incident_id, "ack", body)
    return result


@router.post(
    "/api/v1/incidents/{incident_id}/resolve",
    tags=["incidents"],
    responses=openapi_problems(404, 409),
)
def resolve_incident(
    request: Request, caller: Responder, incident_id: IncidentId, body: StateChange | None = None
) -> dict[str, Any]:
    result: dict[str, Any] = _change(request, caller, incident_id, "resolve", body)
    return result
