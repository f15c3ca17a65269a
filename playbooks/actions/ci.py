"""`ci.<backend>`: one remote action per CI backend of integrations.ci.

The backend plans, describes, dispatches, finds, polls and cancels; this adapter gives
it the RemoteAction shape (playbooks.action): its `with` is the backend's args model,
its connection the backend's connection type, and the correlation id and the webhook's
envelope come from the step's context. The engine (playbooks.remote_steps) drives it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from pydantic import BaseModel

from integrations.ci.base import CiBackend, CiConnection, Dispatched, HttpCall, Polled, RemoteRun
from integrations.connections import ConnectionBase, HttpConnection, connection_type
from playbooks.action import ActionContext, ActionIO, Effect, Planned, StepResult

DEFAULT_POLL = timedelta(seconds=10)
DEFAULT_TIMEOUT = timedelta(seconds=10)


@dataclass(frozen=True, slots=True)
class CiCall:
    """What a CI step performs: the dispatch request, and the arguments `find` reads."""

    args: Any
    http: HttpCall
    correlation_id: str


class CiAction:
    """A CI backend as an action (a subclass per backend: see ci_action)."""

    name: ClassVar[str]
    effect: ClassVar[Effect] = "write"
    remote: ClassVar[bool] = True
    args_model: ClassVar[type[BaseModel]]
    connection_types: ClassVar[frozenset[str]]
    backend: ClassVar[CiBackend]

    def plan(self, args: Any, connection: ConnectionBase | None, ctx: ActionContext) -> Planned:
        if isinstance(args, Mapping):
            args = self.args_model.model_validate(args)
        correlation = ctx.correlation_id
        call = self.backend.plan(args, connection, correlation, ctx.envelope)
        shown = dict(self.backend.describe(call, connection))
        return Planned(shown=shown, call=CiCall(args, call, correlation))

    def poll_interval(self, connection: ConnectionBase | None) -> timedelta:
        if isinstance(connection, CiConnection):
            return connection.poll_interval
        return DEFAULT_POLL

    def request_timeout(self, connection: ConnectionBase | None) -> timedelta:
        if isinstance(connection, HttpConnection):
            return connection.timeout
        return DEFAULT_TIMEOUT

    async def dispatch(
        self, planned: Planned, connection: ConnectionBase | None, io: ActionIO
    ) -> Dispatched:
        call: CiCall = planned.call
        return await self.backend.dispatch(call.http, connection, io.outbound)

    async def find(
        self,
        planned: Planned,
        connection: ConnectionBase | None,
        io: ActionIO,
        correlation_id: str,
        since: datetime,
    ) -> RemoteRun | None:
        call: CiCall = planned.call
        return await self.backend.find(call.args, connection, io.outbound, correlation_id, since)

    async def poll(self, run: RemoteRun, connection: ConnectionBase | None, io: ActionIO) -> Polled:
        return await self.backend.poll(run, connection, io.outbound)

    async def cancel(self, run: RemoteRun, connection: ConnectionBase | None, io: ActionIO) -> str:
        return await self.backend.cancel(run, connection, io.outbound)

    async def run(
        self, planned: Planned, connection: ConnectionBase | None, io: ActionIO
    ) -> StepResult:
        """Never a plain call: a dispatch outside playbooks.remote_steps would skip the
        stored intent, so a lost answer could be sent twice."""
        raise TypeError(f"{self.name} runs only through the runner's exactly-once dispatch")


def ci_action(backend: CiBackend) -> CiAction:
    """The `ci.<name>` action of one backend."""
    attributes = {
        "name": f"ci.{backend.name}",
        "args_model": backend.args_model,
        "connection_types": frozenset({connection_type(backend.connection_model)}),
        "backend": backend,
        "__doc__": f"Starts and follows a run through the {backend.name} CI backend.",
    }
    bound = type(f"CiAction_{backend.name}", (CiAction,), attributes)
    return bound()
