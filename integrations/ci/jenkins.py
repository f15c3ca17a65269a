"""ci.jenkins: buildWithParameters with an API token, the queue item followed to its
build, the build polled to its result.

An API token needs no CSRF crumb. The reply is 201 with `Location: {J}/queue/item/N/`;
the item shows `executable: {number, url}` once the build starts and disappears (404)
some minutes later, so the run is stored as a self-contained queued id
`queue/N <job path> <correlation id>` until the build is known (Polled.run hands the
engine `job/a/job/b/42`). The unique FIREBELL_RUN_ID parameter keeps Jenkins from merging
two queued requests and lets a 404ed item, or an ambiguous dispatch, be found again by
scanning the job's builds (and the queue) for it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

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
from integrations.ci.support import Text, post_cancel, read_json, segment, send_dispatch
from integrations.connections import ConnectionBase
from integrations.logs.http_support import basic_auth
from integrations.outbound import Outbound, describe_request
from routing.basics.field import Secret

CORRELATION_PARAMETER = "FIREBELL_RUN_ID"
MAX_JOB_DEPTH = 10
# The encoded job path, so the queued id "queue/N <job path> <correlation id>" fits
# MAX_REMOTE_ID with a correlation id of up to 88 characters (fb-<run>-<step id>).
MAX_JOB_PATH = 80
_PARAMETER = re.compile(r"[A-Za-z0-9_.-]{1,200}")
_QUEUE_ITEM = re.compile(r"/queue/item/([0-9]{1,20})/?$")
_BUILD = re.compile(r"((?:/job/[^/\s]+){1,10})/([0-9]{1,20})")
_QUEUED = re.compile(r"queue/([0-9]{1,20}) ((?:/job/[^/\s]+){1,10}) (\S+)")
_BUILDS_TREE = "builds[number,url,actions[parameters[name,value]]]{0,50}"
_QUEUE_TREE = "items[id,task[url],actions[parameters[name,value]]]"


class JenkinsConnection(CiConnection):
    type: Literal["jenkins"]
    user: str = Field(min_length=1)
    api_token: Secret  # an API token, not a password: no CSRF crumb needed

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": basic_auth(self.user, self.api_token)}


def _job(value: str) -> str:
    names = value.strip("/").split("/")
    if not value.strip("/") or len(names) > MAX_JOB_DEPTH:
        raise ValueError(f'"{value}" is not a job path (folder/job, at most {MAX_JOB_DEPTH} deep)')
    for name in names:
        if name.strip(".") == "" or any(ord(char) < 0x20 or ord(char) == 0x7F for char in name):
            raise ValueError(f'"{value}" has an invalid job name "{name}"')
    if len(job_path(value)) > MAX_JOB_PATH:
        raise ValueError(f'"{value}" is too long (at most {MAX_JOB_PATH} characters as a URL path)')
    return value


def _parameters(parameters: dict[str, str]) -> dict[str, str]:
    for name in parameters:
        if not _PARAMETER.fullmatch(name):
            raise ValueError(f'parameter name "{name}" may hold only A-Z, a-z, 0-9, _, . and -')
        if name == CORRELATION_PARAMETER:
            raise ValueError(f'"{CORRELATION_PARAMETER}" is set by firebell')
    return parameters


class JenkinsArgs(CiArgs):
    job: Annotated[Text, AfterValidator(_job)]  # "folder/job" -> /job/folder/job/job
    parameters: Annotated[dict[str, Text], AfterValidator(_parameters)] = Field(
        default_factory=dict
    )


def job_path(job: str) -> str:
    return "".join(f"/job/{segment(name)}" for name in job.strip("/").split("/"))


def _build_run(job: str, number: int, url: Any) -> RemoteRun:
    return RemoteRun(f"{job}/{number}", url if isinstance(url, str) else None)


def _parameter(entry: Any, correlation_id: str) -> bool:
    """Whether a build's or queue item's `actions` carry FIREBELL_RUN_ID=correlation_id."""
    actions = entry.get("actions") if isinstance(entry, dict) else None
    for action in actions if isinstance(actions, list) else []:
        parameters = action.get("parameters") if isinstance(action, dict) else None
        for parameter in parameters if isinstance(parameters, list) else []:
            if (
                isinstance(parameter, dict)
                and parameter.get("name") == CORRELATION_PARAMETER
                and parameter.get("value") == correlation_id
            ):
                return True
    return False


class JenkinsBackend:
    name: ClassVar[str] = "jenkins"
    connection_model: ClassVar[type[ConnectionBase]] = JenkinsConnection
    args_model: ClassVar[type[BaseModel]] = JenkinsArgs

    def plan(
        self,
        args: JenkinsArgs,
        connection: JenkinsConnection,
        correlation_id: str,
        context: Mapping[str, Any] | None = None,
    ) -> HttpCall:
        return HttpCall(
            method="POST",
            path=f"{job_path(args.job)}/buildWithParameters",
            query=(*args.parameters.items(), (CORRELATION_PARAMETER, correlation_id)),
        )

    def describe(self, call: HttpCall, connection: JenkinsConnection) -> Mapping[str, Any]:
        return describe_request(connection, call)

    async def dispatch(
        self, call: HttpCall, connection: JenkinsConnection, outbound: Outbound
    ) -> Dispatched:
        sent = await send_dispatch(outbound, connection, call, "jenkins", datetime.now(UTC))
        if isinstance(sent, Dispatched):
            return sent
        job = call.path.removesuffix("/buildWithParameters")
        correlation_id = dict(call.query)[CORRELATION_PARAMETER]
        item = _QUEUE_ITEM.search(urlsplit(sent.headers.get("location", "")).path)
        if item is None:
            # Accepted but no queue item to follow: scan for the parameter instead.
            return Dispatched(
                None,
                ambiguous=True,
                detail=f"jenkins HTTP {sent.status} without a queue item",
            )
        run = RemoteRun(f"queue/{item.group(1)} {job} {correlation_id}")
        return Dispatched(run, ambiguous=False, detail=f"jenkins queue item {item.group(1)}")

    async def find(
        self,
        args: JenkinsArgs,
        connection: JenkinsConnection,
        outbound: Outbound,
        correlation_id: str,
        since: datetime,
    ) -> RemoteRun | None:
        job = job_path(args.job)
        found = await self._scan_builds(job, connection, outbound, correlation_id)
        if found is not None:
            return found
        call = HttpCall(method="GET", path="/queue/api/json", query=(("tree", _QUEUE_TREE),))
        answer, _ = await read_json(outbound, connection, call, "jenkins", datetime.now(UTC))
        items = answer.get("items") if isinstance(answer, dict) else None
        for item in items if isinstance(items, list) else []:
            if _parameter(item, correlation_id) and isinstance(item.get("id"), int):
                return RemoteRun(f"queue/{item['id']} {job} {correlation_id}")
        return None

    async def _scan_builds(
        self, job: str, connection: JenkinsConnection, outbound: Outbound, correlation_id: str
    ) -> RemoteRun | None:
        call = HttpCall(method="GET", path=f"{job}/api/json", query=(("tree", _BUILDS_TREE),))
        answer, _ = await read_json(outbound, connection, call, "jenkins", datetime.now(UTC))
        builds = answer.get("builds") if isinstance(answer, dict) else None
        for build in builds if isinstance(builds, list) else []:
            if _parameter(build, correlation_id) and isinstance(build.get("number"), int):
                return _build_run(job, build["number"], build.get("url"))
        return None

    async def poll(
        self, run: RemoteRun, connection: JenkinsConnection, outbound: Outbound
    ) -> Polled:
        queued = _QUEUED.fullmatch(run.remote_id)
        if queued is None:
            return await self._poll_build(run, connection, outbound)
        number, job, correlation_id = queued.groups()
        call = HttpCall(method="GET", path=f"/queue/item/{number}/api/json")
        try:
            item, _ = await read_json(outbound, connection, call, "jenkins", datetime.now(UTC))
        except CiError as exc:
            if exc.status != 404:
                raise
            # The item left the queue some minutes ago: the build carries our parameter.
            build = await self._scan_builds(job, connection, outbound, correlation_id)
            if build is None:
                raise CiError(
                    f"jenkins: queue item {number} is gone and no build of {job} "
                    f"carries {CORRELATION_PARAMETER}={correlation_id}"
                ) from None
            return await self._poll_build(build, connection, outbound)
        if not isinstance(item, dict):
            raise CiError("jenkins answered a queue item that is not an object")
        if item.get("cancelled"):
            return Polled(status="cancelled", final=True, conclusion="cancelled")
        executable = item.get("executable")
        if isinstance(executable, dict) and isinstance(executable.get("number"), int):
            build = _build_run(job, executable["number"], executable.get("url"))
            return await self._poll_build(build, connection, outbound)
        return Polled(status="queued", final=False, conclusion=None)

    async def _poll_build(
        self, run: RemoteRun, connection: JenkinsConnection, outbound: Outbound
    ) -> Polled:
        if not _BUILD.fullmatch(run.remote_id):
            raise CiError(f'jenkins: "{run.remote_id}" is not a build id')
        call = HttpCall(
            method="GET",
            path=f"{run.remote_id}/api/json",
            query=(("tree", "building,result,url"),),
        )
        answer, wait = await read_json(outbound, connection, call, "jenkins", datetime.now(UTC))
        if not isinstance(answer, dict):
            raise CiError("jenkins answered a build that is not an object")
        url = answer.get("url") if isinstance(answer.get("url"), str) else run.url
        result = answer.get("result")
        final = isinstance(result, str) and not answer.get("building")
        return Polled(
            status="completed" if final else ("running" if answer.get("building") else "pending"),
            final=final,
            conclusion=str(result).lower() if final else None,
            url=url,
            retry_after=wait,
            run=RemoteRun(run.remote_id, url),
        )

    async def cancel(
        self, run: RemoteRun, connection: JenkinsConnection, outbound: Outbound
    ) -> str:
        queued = _QUEUED.fullmatch(run.remote_id)
        if queued is not None:
            # The item may have become a build since the last poll: stop that instead.
            try:
                started = (await self.poll(run, connection, outbound)).run
            except CiError:
                started = None
            if started is not None:
                return await self.cancel(started, connection, outbound)
            call = HttpCall(
                method="POST", path="/queue/cancelItem", query=(("id", queued.group(1)),)
            )
        elif _BUILD.fullmatch(run.remote_id):
            call = HttpCall(method="POST", path=f"{run.remote_id}/stop")
        else:
            return f'jenkins: "{run.remote_id}" is not a build or queue item'
        return await post_cancel(outbound, connection, call, "jenkins", run)


__all__ = [
    "CORRELATION_PARAMETER",
    "JenkinsArgs",
    "JenkinsBackend",
    "JenkinsConnection",
    "job_path",
]
