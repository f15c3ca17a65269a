"""REST API v1 (bearer tokens) and health/readiness/metrics endpoints."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text

from bot.http.auth import bearer_token, token_allowed
from bot.runtime.state import Runtime
from routing.oncall.report import oncall_report
from routing.response import actions as response
from routing.response import incidents
from routing.storage.database import is_unavailable

router = APIRouter()


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def require_token(request: Request) -> str:
    """The caller's identity for the timeline: `api` (token) or `api:anonymous`."""
    rt = runtime(request)
    if rt.open_access:
        return "api"
    headers = {k.lower(): v for k, v in request.headers.items()}
    if not token_allowed(bearer_token(headers), rt.settings.api_tokens):
        raise HTTPException(401, "missing or invalid bearer token", {"WWW-Authenticate": "Bearer"})
    return "api"


Caller = Annotated[str, Depends(require_token)]
Severity = Literal["critical", "error", "warning", "info"]


@router.get("/healthz", tags=["health"])
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", tags=["health"])
def readyz(request: Request) -> JSONResponse:
    rt = runtime(request)
    try:
        with rt.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)
    return JSONResponse({"status": "ready", "database": "ok"})


@router.get("/metrics", tags=["health"])
async def metrics(request: Request) -> Response:
    return Response(
        generate_latest(runtime(request).metrics.registry), media_type=CONTENT_TYPE_LATEST
    )


@router.get("/api/v1/alerts", tags=["alerts"])
def list_alerts(
    request: Request,
    _caller: Caller,
    status: Literal["pending", "firing", "resolved"] | None = None,
    source: str | None = None,
    service: str | None = None,
    severity: Severity | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    flt = incidents.AlertFilter(status, source, service, severity, limit=limit)
    with runtime(request).engine.connect() as conn:
        return {"items": incidents.list_alerts(conn, flt)}


@router.get("/api/v1/incidents", tags=["incidents"])
def list_incidents(
    request: Request,
    _caller: Caller,
    status: Literal["triggered", "acknowledged", "resolved", "open"] | None = None,
    service: str | None = None,
    severity: Severity | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    with runtime(request).engine.connect() as conn:
        items = incidents.list_incidents(
            conn,
            status=None if status == "open" else status,
            open_only=status == "open",
            service=service,
            severity=severity,
            limit=limit,
        )
    return {"items": items}


@router.get("/api/v1/incidents/{incident_id}", tags=["incidents"])
def get_incident(request: Request, _caller: Caller, incident_id: int) -> dict[str, Any]:
    with runtime(request).engine.connect() as conn:
        try:
            return incidents.get_incident(conn, incident_id)
        except incidents.IncidentNotFound as exc:
            raise HTTPException(404, str(exc)) from exc


@router.get("/api/v1/oncall", tags=["oncall"])
def get_oncall(
    request: Request,
    _caller: Caller,
    schedule: str | None = None,
    at: datetime | None = None,
    handoffs: Annotated[int, Query(ge=0, le=50)] = 3,
) -> dict[str, Any]:
    """Who is on call at `at` (default now; ISO 8601, no zone means UTC) and next."""
    rt = runtime(request)
    instant = rt.clock() if at is None else (at if at.tzinfo else at.replace(tzinfo=UTC))
    config = rt.settings
    if schedule is None:
        chosen = list(config.schedules)
    else:
        try:
            chosen = [config.schedule(schedule)]
        except KeyError as exc:
            raise HTTPException(404, str(exc.args[0])) from exc
    return {"items": oncall_report(chosen, instant.astimezone(UTC), handoffs)}


class StateChange(BaseModel):
    actor: str | None = None
    note: str | None = None


def _change(request: Request, incident_id: int, action: str, body: StateChange | None) -> Any:
    rt = runtime(request)
    actor = (body.actor if body and body.actor else None) or "api"
    now = rt.clock()
    try:
        with rt.engine.begin() as conn:
            if action == "ack":
                result = response.acknowledge(conn, incident_id, actor, now)
            else:
                note = body.note if body else None
                result = response.resolve(conn, incident_id, actor, now, note)
    except incidents.IncidentNotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except incidents.InvalidTransition as exc:
        raise HTTPException(409, str(exc)) from exc
    for hook in rt.extras.get("incident_changed", []):
        hook(incident_id, action)
    return result


@router.post("/api/v1/incidents/{incident_id}/ack", tags=["incidents"])
def ack_incident(
    request: Request, _caller: Caller, incident_id: int, body: StateChange | None = None
) -> dict[str, Any]:
    result: dict[str, Any] = _change(request, incident_id, "ack", body)
    return result


@router.post("/api/v1/incidents/{incident_id}/resolve", tags=["incidents"])
def resolve_incident(
    request: Request, _caller: Caller, incident_id: int, body: StateChange | None = None
) -> dict[str, Any]:
    result: dict[str, Any] = _change(request, incident_id, "resolve", body)
    return result
