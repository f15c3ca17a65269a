"""`logs.<backend>`: one read action per log backend of integrations.logs.

The backend does the work (plan the call, describe it, fetch and parse); this adapter
gives it the Action shape: its `with` is the backend's args model, its connection is
the backend's connection type, and the lines it fetched become text lines
(integrations.logs.format_line: time, origin, text).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel

from integrations.connections import ConnectionBase
from integrations.logs import connection_type, format_line
from integrations.logs.base import FetchError, LogBackend
from integrations.outbound import OutboundRefused
from playbooks.action import ActionContext, ActionIO, Effect, Planned, StepResult


def _lines_phrase(count: int) -> str:
    return "no lines" if count == 0 else f"{count} line{'s' * (count != 1)}"


class LogAction:
    """A log backend as an action (a subclass per backend: see log_action)."""

    name: ClassVar[str]
    effect: ClassVar[Effect] = "read"
    args_model: ClassVar[type[BaseModel]]
    connection_types: ClassVar[frozenset[str]]
    backend: ClassVar[LogBackend]

    def plan(self, args: Any, connection: ConnectionBase | None, ctx: ActionContext) -> Planned:
        if isinstance(args, Mapping):
            args = self.args_model.model_validate(args)
        call = self.backend.plan(args, connection, ctx.now)
        return Planned(shown=dict(self.backend.describe(call, connection)), call=call)

    async def run(
        self, planned: Planned, connection: ConnectionBase | None, io: ActionIO
    ) -> StepResult:
        try:
            fetched = await self.backend.fetch(planned.call, connection, io.outbound)
        except (FetchError, OutboundRefused) as exc:
            return StepResult(ok=False, summary=f"failed: {exc}", error=str(exc))
        lines = [format_line(line) for line in fetched.lines]
        facts = {**fetched.facts, "count": len(lines)}
        summary = _lines_phrase(len(lines))
        if note := facts.get("note"):  # the read stopped early: say so where people look
            summary += f"; {note}"
        return StepResult(ok=True, summary=summary, lines=lines, facts=facts)


def log_action(backend: LogBackend) -> LogAction:
    """The `logs.<name>` action of one backend."""
    attributes = {
        "name": f"logs.{backend.name}",
        "args_model": backend.args_model,
        "connection_types": frozenset({connection_type(backend.connection_model)}),
        "backend": backend,
        "__doc__": f"Reads logs through the {backend.name} backend.",
    }
    bound = type(f"LogAction_{backend.name}", (LogAction,), attributes)
    return bound()
