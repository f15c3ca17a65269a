"""What an action is: the `uses:` of a step (playbooks.registry holds them all).

An action validates its `with` with a pydantic model, declares its effect (read or
write), names the connection types it accepts, plans the exact request (pure, shown by
dry-runs and bound by approvals) and performs it.

A remote action (CI: RemoteAction) starts a run elsewhere and is followed by the engine
(playbooks.remote_steps), never by `run`: the engine stores its intent before `dispatch`,
resolves an ambiguous answer with `find` (never sending again), `poll`s while the step
has `wait:`, and `cancel`s the remote run when the playbook run is cancelled.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal, Protocol, TypeGuard

from pydantic import BaseModel

from integrations.ci.base import Dispatched, Polled, RemoteRun
from integrations.connections import ConnectionBase
from integrations.outbound import Outbound

Effect = Literal["read", "write"]


@dataclass(frozen=True, slots=True)
class ActionContext:
    """What planning may know besides the arguments (never a secret)."""

    incident_id: int
    run_id: int | None  # None in a dry-run
    now: datetime
    step_id: str = ""
    # What a remote action may put in its request besides `with` (the webhook's envelope:
    # run_id, playbook, step, incident {id, url, labels}, params). Never a secret.
    envelope: Mapping[str, Any] | None = None

    @property
    def correlation_id(self) -> str:
        """`fb-<run id>-<step id>`: stable across crashes, so an ambiguous dispatch is
        found again by it. A dry-run shows the run id as a placeholder."""
        return f"fb-{self.run_id if self.run_id is not None else 'RUN'}-{self.step_id}"


@dataclass(frozen=True, slots=True)
class Planned:
    # The request as a dry-run and the run's record show it: method, url, headers,
    # body (or argv, or file); credentials as "***". JSON-serializable.
    shown: Mapping[str, Any]
    call: Any  # what `run` performs


@dataclass(slots=True)
class StepResult:
    ok: bool
    summary: str  # one line for the timeline and the chat thread: "200 lines (12 cut)"
    lines: list[str] = field(default_factory=list)  # the output to store (runner caps, redacts)
    facts: dict[str, Any] = field(default_factory=dict)  # steps.<id>.<key> for later steps
    error: str = ""  # why it failed, without credentials


# Posts `text` into the incident's chat threads; returns where it went ("slack, discord"),
# raises on failure. Supplied by the bot layer (playbooks do not know the chat layer).
ChatPoster = Callable[[int, str], Awaitable[str]]


@dataclass(slots=True)
class ActionIO:
    outbound: Outbound
    post_chat: ChatPoster | None = None


class Action(Protocol):
    name: ClassVar[str]  # "logs.loki"
    effect: ClassVar[Effect]
    args_model: ClassVar[type[BaseModel]]  # the step's `with`
    connection_types: ClassVar[frozenset[str]]  # types its `connection` may name; empty: none

    def plan(self, args: Any, connection: ConnectionBase | None, ctx: ActionContext) -> Planned: ...

    async def run(
        self, planned: Planned, connection: ConnectionBase | None, io: ActionIO
    ) -> StepResult: ...


class RemoteAction(Action, Protocol):
    """An action that starts a run on another system and can be followed (`wait:`)."""

    remote: ClassVar[bool]  # True

    def poll_interval(self, connection: ConnectionBase | None) -> timedelta: ...

    def request_timeout(self, connection: ConnectionBase | None) -> timedelta:
        """How long one call may take (the lease a pass holds is this plus a margin)."""
        ...

    async def dispatch(
        self, planned: Planned, connection: ConnectionBase | None, io: ActionIO
    ) -> Dispatched: ...

    async def find(
        self,
        planned: Planned,
        connection: ConnectionBase | None,
        io: ActionIO,
        correlation_id: str,
        since: datetime,
    ) -> RemoteRun | None: ...

    async def poll(
        self, run: RemoteRun, connection: ConnectionBase | None, io: ActionIO
    ) -> Polled: ...

    async def cancel(
        self, run: RemoteRun, connection: ConnectionBase | None, io: ActionIO
    ) -> str: ...


def is_remote(action: Action) -> TypeGuard[RemoteAction]:
    return getattr(action, "remote", False) is True
