"""ci.github: a GitHub Actions workflow_dispatch, followed to its conclusion.

Dispatch asks for `return_run_details` (200 with workflow_run_id and html_url). A server
that answers 204 without details (GitHub Enterprise Server, older APIs) is handled with
the correlation input `firebell_run_id`: the workflow must show it in its run name,

    on: {workflow_dispatch: {inputs: {firebell_run_id: {required: false}}}}
    run-name: "repro ${{ inputs.firebell_run_id }}"

and `find` lists the workflow's recent workflow_dispatch runs for a display_title that
holds the id. Rate limits (403/429 with retry-after, or x-ratelimit-remaining 0 and
x-ratelimit-reset) become waits, never a second dispatch.
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
    correlation_pattern,
    json_answer,
    name_check,
    post_cancel,
    read_json,
    segment,
    send_dispatch,
)
from integrations.connections import BaseURL, ConnectionBase
from integrations.outbound import Outbound, describe_request
from routing.basics.field import Secret

API_VERSION = "2022-11-28"
CORRELATION_INPUT = "firebell_run_id"
MAX_INPUTS = 25  # GitHub's limit, the correlation input included
_OWNER = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})"
_REPO = re.compile(rf"{_OWNER}/[A-Za-z0-9._-]{{1,100}}")
_WORKFLOW = re.compile(r"[A-Za-z0-9._-]{1,200}\.ya?ml|[0-9]{1,20}")
_INPUT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,99}")
_RUN_ID = re.compile(rf"({_OWNER}/[A-Za-z0-9._-]{{1,100}})/([0-9]{{1,20}})")
LOOK_BACK = timedelta(seconds=5)  # clock skew between us and GitHub when listing runs


class GitHubConnection(CiConnection):
    type: Literal["github"]
    url: BaseURL = "https://api.github.com"
    token: Secret  # a PAT or App installation token with actions: write

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def _inputs(inputs: dict[str, str]) -> dict[str, str]:
    if len(inputs) > MAX_INPUTS - 1:
        raise ValueError(
            f"at most {MAX_INPUTS - 1} inputs (GitHub takes {MAX_INPUTS}; "
            f"firebell adds {CORRELATION_INPUT})"
        )
    for name in inputs:
        if not _INPUT_NAME.fullmatch(name):
            raise ValueError(f'input name "{name}" is not a valid workflow input name')
        if name == CORRELATION_INPUT:
            raise ValueError(f'"{CORRELATION_INPUT}" is set by firebell')
    return inputs


class GitHubArgs(CiArgs):
    repo: Annotated[str, AfterValidator(name_check(_REPO, 'repository ("owner/name")'))]
    workflow: Annotated[
        str, AfterValidator(name_check(_WORKFLOW, "workflow (a file name such as ci.yml, or id)"))
    ]
    ref: Text = Field(min_length=1, max_length=255)
    inputs: Annotated[dict[str, Text], AfterValidator(_inputs)] = Field(default_factory=dict)


def _repo_path(repo: str) -> str:
    owner, name = repo.split("/", 1)
    return f"/repos/{segment(owner)}/{segment(name)}"


def _headers() -> tuple[tuple[str, str], ...]:
    return (("Accept", "application/vnd.github+json"), ("X-GitHub-Api-Version", API_VERSION))


def _parse_run(run: RemoteRun) -> tuple[str, str]:
    match = _RUN_ID.fullmatch(run.remote_id)
    if not match:
        raise CiError(f'github: "{run.remote_id}" is not a run id (owner/name/number)')
    return match.group(1), match.group(2)


def _repo_of(call: HttpCall) -> str:
    """owner/name from a planned dispatch path (/repos/o/r/actions/...)."""
    parts = call.path.split("/")
    return f"{parts[2]}/{parts[3]}"


def _polled(answer: Any, wait: timedelta | None) -> Polled:
    if not isinstance(answer, dict) or not isinstance(answer.get("status"), str):
        raise CiError("github answered a run without a status")
    status = answer["status"]
    final = status == "completed"
    conclusion = answer.get("conclusion") if final else None
    return Polled(
        status=status,
        final=final,
        conclusion=str(conclusion).lower() if conclusion else ("unknown" if final else None),
        url=answer.get("html_url") if isinstance(answer.get("html_url"), str) else None,
        retry_after=wait,
    )


class GitHubBackend:
    name: ClassVar[str] = "github"
    connection_model: ClassVar[type[ConnectionBase]] = GitHubConnection
    args_model: ClassVar[type[BaseModel]] = GitHubArgs

    def plan(
        self,
        args: GitHubArgs,
        connection: GitHubConnection,
        correlation_id: str,
        context: Mapping[str, Any] | None = None,
    ) -> HttpCall:
        return HttpCall(
            method="POST",
            path=f"{_repo_path(args.repo)}/actions/workflows/{segment(args.workflow)}/dispatches",
            json={
                "ref": args.ref,
                "inputs": {**args.inputs, CORRELATION_INPUT: correlation_id},
                "return_run_details": True,
            },
            headers=_headers(),
        )

    def describe(self, call: HttpCall, connection: GitHubConnection) -> Mapping[str, Any]:
        return describe_request(connection, call)

    async def dispatch(
        self, call: HttpCall, connection: GitHubConnection, outbound: Outbound
    ) -> Dispatched:
        sent = await send_dispatch(outbound, connection, call, "github", datetime.now(UTC))
        if isinstance(sent, Dispatched):
            return sent
        try:
            answer = json_answer(sent, "github")
        except CiError:
            answer = None
        run_id = answer.get("workflow_run_id") if isinstance(answer, dict) else None
        if not isinstance(run_id, int) or isinstance(run_id, bool):
            # 204 (no run details): it was accepted; find() matches the run by its title.
            return Dispatched(
                None,
                ambiguous=True,
                detail=f"github accepted the dispatch (HTTP {sent.status}) without a run id",
            )
        assert isinstance(answer, dict)
        url = answer.get("html_url")
        run = RemoteRun(f"{_repo_of(call)}/{run_id}", url if isinstance(url, str) else None)
        return Dispatched(run, ambiguous=False, detail=f"github workflow run {run_id}")

    async def find(
        self,
        args: GitHubArgs,
        connection: GitHubConnection,
        outbound: Outbound,
        correlation_id: str,
        since: datetime,
    ) -> RemoteRun | None:
        created = (since - LOOK_BACK).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        call = HttpCall(
            method="GET",
            path=f"{_repo_path(args.repo)}/actions/workflows/{segment(args.workflow)}/runs",
            query=(
                ("event", "workflow_dispatch"),
                ("created", f">={created}"),
                ("per_page", "100"),
            ),
            headers=_headers(),
        )
        answer, _ = await read_json(outbound, connection, call, "github", datetime.now(UTC))
        runs = answer.get("workflow_runs") if isinstance(answer, dict) else None
        if not isinstance(runs, list):
            raise CiError("github answered the runs list without workflow_runs")
        token = correlation_pattern(correlation_id)
        for run in runs:
            if not isinstance(run, dict) or not isinstance(run.get("id"), int):
                continue
            title = f"{run.get('display_title') or ''} {run.get('name') or ''}"
            if token.search(title):
                url = run.get("html_url")
                return RemoteRun(f"{args.repo}/{run['id']}", url if isinstance(url, str) else None)
        return None

    async def poll(
        self, run: RemoteRun, connection: GitHubConnection, outbound: Outbound
    ) -> Polled:
        repo, number = _parse_run(run)
        call = HttpCall(
            method="GET", path=f"{_repo_path(repo)}/actions/runs/{number}", headers=_headers()
        )
        answer, wait = await read_json(outbound, connection, call, "github", datetime.now(UTC))
        return _polled(answer, wait)

    async def cancel(self, run: RemoteRun, connection: GitHubConnection, outbound: Outbound) -> str:
        try:
            repo, number = _parse_run(run)
        except CiError as exc:
            return str(exc)
        call = HttpCall(
            method="POST",
            path=f"{_repo_path(repo)}/actions/runs/{number}/cancel",
            headers=_headers(),
        )
        return await post_cancel(outbound, connection, call, "github", run)


__all__ = ["API_VERSION", "CORRELATION_INPUT", "GitHubArgs", "GitHubBackend", "GitHubConnection"]
