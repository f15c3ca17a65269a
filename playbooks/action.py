"""What an action is: the `uses:` of a step (playbooks.registry holds them all).

An action validates its `with` with a pydantic model, declares its effect (read or
write: part 2 makes writes wait for approval), names the connection types it accepts,
plans the exact request (pure, shown by dry-runs) and performs it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal, Protocol

from pydantic import BaseModel

from integrations.connections import ConnectionBase
from integrations.outbound import Outbound

Effect = Literal["read", "write"]


@dataclass(frozen=True, slots=True)
class ActionContext:
    """What planning may know besides the arguments (never a secret)."""

    incident_id: int
    run_id: int | None  # None in a dry-run
    now: datetime


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
