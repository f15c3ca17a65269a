"""REST API for playbooks: start or dry-run a run, read runs and their outputs, cancel,
and list the configured playbooks.

  POST /api/v1/playbook-runs                              201 the run | 200 the dry-run
  GET  /api/v1/playbook-runs?incident_id=                 runs, newest first
  GET  /api/v1/playbook-runs/{run_id}                     the run, steps and their outputs
  GET  /api/v1/playbook-runs/{run_id}/steps/{step_id}/output
  POST /api/v1/playbook-runs/{run_id}/cancel
  GET  /api/v1/playbooks, GET /api/v1/playbooks/{playbook_id}

Runs are started as the authenticated caller (responder role); a body naming the actor
is refused. The service (playbooks.service) decides what is refused; here its refusals
become problems naming the field (`body.playbook`, `path.run_id`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, Response

from bot.config.identities import Principal
from bot.http.api import runtime
from bot.http.fields import MAX_ROW_ID, Text
from bot.http.identity import Reader, RefusedActorField, needs
from bot.http.problem_docs import openapi_problems
from bot.runtime.problems import problem_response
from playbooks.service import PlaybookRefused, PlaybookService, detail, plain, summarize

router = APIRouter(tags=["playbooks"])

# Starting, dry-running and cancelling runs.
PlaybookRunner = Annotated[Principal, Depends(needs("responder", "running playbooks"))]
RunId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
ParamValue = Annotated[Text, Field(max_length=1000)] | int | float | bool


class PlaybookRunIn(BaseModel):
    """A run of `playbook` on `incident_id`, as the caller. `dry_run` renders and plans
    every step without sending anything (`with_reads`: read steps run for real)."""

    model_config = ConfigDict(
        extra="forbid",
        # Shown in /docs, and sent as-is by the schemathesis contract test.
        json_schema_extra={
            "examples": [
                {"incident_id": 1, "playbook": "api-5xx", "params": {"window": "1h"}},
                {"incident_id": 1, "playbook": "api-5xx", "dry_run": True},
            ]
        },
    )

    incident_id: int = Field(ge=1, le=MAX_ROW_ID)
    playbook: Annotated[Text, Field(min_length=1, max_length=100)]
    params: dict[Annotated[Text, Field(max_length=64)], ParamValue] = Field(default_factory=dict)
    dry_run: bool = False
    with_reads: bool = False
    actor: RefusedActorField = None  # the run is started by the caller
    started_by: RefusedActorField = None


def param_text(value: str | int | float | bool) -> str:
    """A JSON param as the text chat and the CLI would give (`true`, `200`, `30m`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def service(request: Request) -> PlaybookService:
    found: PlaybookService | None = runtime(request).extras.get("playbook_service")
    if found is None:  # a process built without playbooks (never `serve`)
        raise HTTPException(404, "playbooks are not available in this process")
    return found


def refusal(exc: PlaybookRefused, where: str) -> Response:
    return problem_response(exc.status, exc.message, f"{where}.{exc.field}")


def with_outputs(run: Mapping[str, Any], outputs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with each step's stored output inline (`output`: None before it has one)."""
    by_step = {o["step_id"]: o for o in outputs}
    steps = []
    for step in run["steps"]:
        found = by_step.get(step["step_id"])
        output = None
        if found is not None and (found["text"] or found["cut_lines"]):
            output = {k: found[k] for k in ("text", "line_count", "cut_lines", "cut_bytes")}
        steps.append({**step, "output": output})
    return plain({**run, "steps": steps})


@router.post(
    "/api/v1/playbook-runs",
    status_code=201,
    response_model=None,
    responses={
        200: {"description": "The dry-run: every step's request; nothing was started"},
        **openapi_problems(404, 409, 422),
    },
)
async def start_run(request: Request, caller: PlaybookRunner, body: PlaybookRunIn) -> Any:
    """Start a run (201, the run), or with `dry_run` show what it would send (200)."""
    if body.with_reads and not body.dry_run:
        return problem_response(422, "with_reads is for dry-runs: add dry_run", "body.with_reads")
    playbooks = service(request)
    params = {name: param_text(value) for name, value in body.params.items()}
    try:
        if body.dry_run:
            result = await playbooks.dry_run(
                body.incident_id, body.playbook, params, caller.name, body.with_reads
            )
            return JSONResponse(plain(result), status_code=200)
        run = await asyncio.to_thread(
            playbooks.start, body.incident_id, body.playbook, params, caller.name
        )
    except PlaybookRefused as exc:
        return refusal(exc, "body")
    return plain(run)


@router.get("/api/v1/playbook-runs", responses=openapi_problems(404))
def list_runs(
    request: Request,
    _caller: Reader,
    incident_id: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Any:
    """Runs, newest first; of one incident with `incident_id`."""
    return {"items": plain(service(request).runs(incident_id, limit))}


@router.get("/api/v1/playbook-runs/{run_id}", responses=openapi_problems(404))
def get_run(request: Request, _caller: Reader, run_id: RunId) -> Any:
    """The run, its steps (status, times, summary, excerpt, request) and their outputs."""
    playbooks = service(request)
    try:
        run = playbooks.run(run_id)
        outputs = playbooks.outputs(run_id)
    except PlaybookRefused as exc:
        return refusal(exc, "path")
    return with_outputs(run, outputs)


@router.get(
    "/api/v1/playbook-runs/{run_id}/steps/{step_id}/output", responses=openapi_problems(404)
)
def get_step_output(
    request: Request,
    _caller: Reader,
    run_id: RunId,
    step_id: Annotated[Text, Path(max_length=64)],
) -> Any:
    """One step's stored output: its lines (capped, redacted) and how much was cut."""
    try:
        outputs = service(request).outputs(run_id, step_id)
    except PlaybookRefused as exc:
        return refusal(exc, "path")
    # One row: the service refused a step the run does not have. Text "" before it ran.
    return plain({"run_id": run_id, **outputs[0]})


@router.post("/api/v1/playbook-runs/{run_id}/cancel", responses=openapi_problems(404, 409))
def cancel_run(request: Request, caller: PlaybookRunner, run_id: RunId) -> Any:
    """Ask the run to stop: no further step starts (`always` steps still run)."""
    try:
        return plain(service(request).cancel(run_id, caller.name))
    except PlaybookRefused as exc:
        return refusal(exc, "path")


@router.get("/api/v1/playbooks")
def list_playbooks(request: Request, _caller: Reader) -> dict[str, Any]:
    """The configured playbooks: id, description, match, params and step actions."""
    found: PlaybookService | None = runtime(request).extras.get("playbook_service")
    return {"items": [summarize(p) for p in found.playbooks()] if found else []}


@router.get("/api/v1/playbooks/{playbook_id}", responses=openapi_problems(404))
def get_playbook(
    request: Request, _caller: Reader, playbook_id: Annotated[Text, Path(max_length=100)]
) -> Any:
    """A playbook: its match, params and steps (with their `with` templates, unrendered)."""
    try:
        playbook = service(request).playbook(playbook_id)
    except PlaybookRefused as exc:
        return problem_response(exc.status, exc.message, "path.playbook_id")
    return detail(playbook)
