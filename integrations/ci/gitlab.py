"""ci.gitlab: a pipeline trigger, followed with the API token to a final status.

The trigger (`POST /api/v4/projects/:id/trigger/pipeline`) authenticates with the trigger
token in the body; it is added at send time, so dry-runs and approvals show `***`. Reading
pipelines needs an API token with read_api (`PRIVATE-TOKEN`), which a trigger token
cannot do. The variable FIREBELL_RUN_ID carries the correlation id; after an ambiguous
trigger `find` lists recent trigger pipelines on the ref and reads their variables.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, Field

from integrations.ci.base import (
    CiArgs,
    CiConnection,
    CiError,
    Dispatched,
    HttpCall,
    Polled,
    RemoteRun,
)
from integrations.ci.support import (
    Text,
    json_answer,
    post_cancel,
    read_json,
    segment,
    send_dispatch,
)
from integrations.connections import ConnectionBase
from integrations.outbound import Outbound, describe_request
from routing.basics.field import Secret

CORRELATION_VARIABLE = "FIREBELL_RUN_ID"
FINAL = frozenset({"success", "failed", "canceled", "skipped"})
FIND_PIPELINES = 20  # newest trigger pipelines whose variables `find` reads
LOOK_BACK = timedelta(seconds=5)
_PROJECT = re.compile(r"[0-9]{1,20}|[A-Za-z0-9_.][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_.][A-Za-z0-9_.-]*)+")
_VARIABLE = re.compile(r"[A-Za-z0-9_]{1,255}")
_PIPELINE = re.compile(r"[0-9]{1,20}")
_REDACTED = "***"


def _project(value: str) -> str:
    if not _PROJECT.fullmatch(value) or any(part.strip(".") == "" for part in value.split("/")):
        raise ValueError(f'"{value}" is not a valid project (a number or "group/name")')
    return value


class GitLabConnection(CiConnection):
    type: Literal["gitlab"]
    project: Annotated[str, AfterValidator(_project)]  # URL-encoded as one path segment
    trigger_token: Secret  # starts pipelines (sent in the trigger body)
    api_token: Secret  # reads and cancels them (read_api / api scope)

    def auth_headers(self) -> dict[str, str]:
        return {"PRIVATE-TOKEN": self.api_token}


def _variables(variables: dict[str, str]) -> dict[str, str]:
    for name in variables:
        if not _VARIABLE.fullmatch(name):
            raise ValueError(f'variable name "{name}" may hold only A-Z, a-z, 0-9 and _')
        if name == CORRELATION_VARIABLE:
            raise ValueError(f'"{CORRELATION_VARIABLE}" is set by firebell')
    return variables


class GitLabArgs(CiArgs):
    ref: Text = Field(min_length=1, max_length=255)
    variables: Annotated[dict[str, Text], AfterValidator(_variables)] = Field(default_factory=dict)


def _project_path(connection: GitLabConnection) -> str:
    return f"/api/v4/projects/{segment(connection.project)}"


def _pipeline(run: RemoteRun) -> str:
    if not _PIPELINE.fullmatch(run.remote_id):
        raise CiError(f'gitlab: "{run.remote_id}" is not a pipeline id')
    return run.remote_id


def _run_of(answer: Any) -> RemoteRun | None:
    if not isinstance(answer, dict) or not isinstance(answer.get("id"), int):
        return None
    url = answer.get("web_url")
    return RemoteRun(str(answer["id"]), url if isinstance(url, str) else None)


class GitLabBackend:
    name: ClassVar[str] = "gitlab"
    connection_model: ClassVar[type[ConnectionBase]] = GitLabConnection
    args_model: ClassVar[type[BaseModel]] = GitLabArgs

    def plan(
        self,
        args: GitLabArgs,
        connection: GitLabConnection,
        correlation_id: str,
        context: Mapping[str, Any] | None = None,
    ) -> HttpCall:
        return HttpCall(
            method="POST",
            path=f"{_project_path(connection)}/trigger/pipeline",
            json={
                "ref": args.ref,
                "variables": {**args.variables, CORRELATION_VARIABLE: correlation_id},
            },
            headers=(("Accept", "application/json"),),
        )

    def describe(self, call: HttpCall, connection: GitLabConnection) -> Mapping[str, Any]:
        shown = describe_request(connection, call)
        return {**shown, "body": {"token": _REDACTED, **(call.json or {})}}

    async def dispatch(
        self, call: HttpCall, connection: GitLabConnection, outbound: Outbound
    ) -> Dispatched:
        signed = HttpCall(
            method=call.method,
            path=call.path,
            query=call.query,
            json={"token": connection.trigger_token, **(call.json or {})},
            headers=call.headers,
        )
        sent = await send_dispatch(outbound, connection, signed, "gitlab", datetime.now(UTC))
        if isinstance(sent, Dispatched):
            return sent
        try:
            run = _run_of(json_answer(sent, "gitlab"))
        except CiError:
            run = None
        if run is None:
            # Accepted, yet no pipeline to follow: look it up by its variable.
            return Dispatched(
                None,
                ambiguous=True,
                detail=f"gitlab HTTP {sent.status} without a pipeline",
            )
        return Dispatched(run, ambiguous=False, detail=f"gitlab pipeline {run.remote_id}")

    async def find(
        self,
        args: GitLabArgs,
        connection: GitLabConnection,
        outbound: Outbound,
        correlation_id: str,
        since: datetime,
    ) -> RemoteRun | None:
        after = (since - LOOK_BACK).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        now = datetime.now(UTC)
        listing = HttpCall(
            method="GET",
            path=f"{_project_path(connection)}/pipelines",
            query=(
                ("ref", args.ref),
                ("source", "trigger"),
                ("updated_after", after),
                ("order_by", "id"),
                ("sort", "desc"),
                ("per_page", str(FIND_PIPELINES)),
            ),
        )
        pipelines, _ = await read_json(outbound, connection, listing, "gitlab", now)
        if not isinstance(pipelines, list):
            raise CiError("gitlab answered the pipelines list with no list")
        for pipeline in pipelines[:FIND_PIPELINES]:
            run = _run_of(pipeline)
            if run is None:
                continue
            variables_call = HttpCall(
                method="GET",
                path=f"{_project_path(connection)}/pipelines/{run.remote_id}/variables",
            )
            variables, _ = await read_json(outbound, connection, variables_call, "gitlab", now)
            for variable in variables if isinstance(variables, list) else []:
                if (
                    isinstance(variable, dict)
                    and variable.get("key") == CORRELATION_VARIABLE
                    and variable.get("value") == correlation_id
                ):
                    return run
        return None

    async def poll(
        self, run: RemoteRun, connection: GitLabConnection, outbound: Outbound
    ) -> Polled:
        call = HttpCall(
            method="GET", path=f"{_project_path(connection)}/pipelines/{_pipeline(run)}"
        )
        answer, wait = await read_json(outbound, connection, call, "gitlab", datetime.now(UTC))
        if not isinstance(answer, dict) or not isinstance(answer.get("status"), str):
            raise CiError("gitlab answered a pipeline without a status")
        status = answer["status"]
        url = answer.get("web_url")
        return Polled(
            status=status,
            final=status in FINAL,
            conclusion=status if status in FINAL else None,
            url=url if isinstance(url, str) else None,
            retry_after=wait,
        )

    async def cancel(self, run: RemoteRun, connection: GitLabConnection, outbound: Outbound) -> str:
        try:
            pipeline = _pipeline(run)
        except CiError as exc:
            return str(exc)
        call = HttpCall(
            method="POST", path=f"{_project_path(connection)}/pipelines/{pipeline}/cancel"
        )
        return await post_cancel(outbound, connection, call, "gitlab", run)


__all__ = ["CORRELATION_VARIABLE", "GitLabArgs", "GitLabBackend", "GitLabConnection"]
