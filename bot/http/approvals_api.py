"""REST API for approval gates: approve or reject the step of a run that waits for one.

  POST /api/v1/playbook-runs/{run_id}/approve   {"step"?: id, "comment"?: text}
  POST /api/v1/playbook-runs/{run_id}/reject
  POST /api/v1/playbook-runs/{run_id}/request-again   201 the new run

The decision is the bearer token's person (the core's per-person tokens); a machine
token or an open API is nobody and is refused. Whether that person may decide is
checked now by the service (playbooks.approvals_service): 403 names who may, 409 when
nothing awaits approval or the request expired. Approving twice answers 200 with
`already: true`. Request again (after an expiry) starts a new run of the same playbook,
incident and params as the caller, who needs the responder role as for any run.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse

from bot.config.identities import Principal
from bot.http.api import runtime
from bot.http.fields import Text
from bot.http.identity import Reader, RefusedActorField
from bot.http.playbooks_api import PlaybookRunner, RunId, refusal, service
from bot.http.problem_docs import openapi_problems
from playbooks.approvals_service import decision_text
from playbooks.service import PlaybookRefused, plain

router = APIRouter(tags=["playbooks"])


class DecisionIn(BaseModel):
    """Which step (default: the one awaiting approval) and why."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{}, {"step": "hotfix", "comment": "repro is green"}]},
    )

    step: Annotated[Text, Field(min_length=1, max_length=64)] | None = None
    comment: Annotated[Text, Field(max_length=1000)] = ""
    actor: RefusedActorField = None  # the decision is the caller's


async def _decide(
    request: Request, caller: Principal, run_id: int, decision: str, body: DecisionIn | None
) -> Any:
    given = body or DecisionIn()
    rt = runtime(request)
    try:
        result = await asyncio.to_thread(
            service(request).decide,
            run_id,
            decision,
            caller.user,  # a person, or None (a machine token: refused naming who may)
            rt.settings,
            step_id=given.step,
            comment=given.comment,
            surface="api",
        )
    except PlaybookRefused as exc:
        where = "path" if exc.field == "run_id" else "body"
        return refusal(exc, where)
    return {**result, "message": decision_text(result)}


@router.post("/api/v1/playbook-runs/{run_id}/approve", responses=openapi_problems(403, 404, 409))
async def approve_run(
    request: Request, caller: Reader, run_id: RunId, body: DecisionIn | None = None
) -> Any:
    """Approve the step awaiting approval as the caller (counted once per person)."""
    return await _decide(request, caller, run_id, "approved", body)


@router.post("/api/v1/playbook-runs/{run_id}/reject", responses=openapi_problems(403, 404, 409))
async def reject_run(
    request: Request, caller: Reader, run_id: RunId, body: DecisionIn | None = None
) -> Any:
    """Reject the step awaiting approval as the caller: the run fails at that step."""
    return await _decide(request, caller, run_id, "rejected", body)


@router.post(
    "/api/v1/playbook-runs/{run_id}/request-again",
    status_code=201,
    response_model=None,
    responses={
        200: {"description": "Asked again already: the run that request started"},
        **openapi_problems(404, 409),
    },
)
def request_again(request: Request, caller: PlaybookRunner, run_id: RunId) -> Any:
    """Ask again after the run's approval expired: a new run (201) of the same playbook
    on the same incident with the same params, started by the caller. Asked once: a
    second request answers 200 with the run the first one started."""
    try:
        run, new = service(request).request_again(run_id, caller.name)
    except PlaybookRefused as exc:
        return refusal(exc, "path")
    return JSONResponse(plain(run), status_code=201 if new else 200)
