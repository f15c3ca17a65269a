"""`chat.post`: a message in the incident's own chat threads (Slack, Discord).

It needs no connection: the bot layer supplies the poster (ActionIO.post_chat). It is a
write (it posts), but into the incident's own thread; part 1 runs it without approval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from integrations.connections import ConnectionBase
from playbooks.action import ActionContext, ActionIO, Effect, Planned, StepResult

MAX_CHAT_TEXT = 3000  # one Slack section block holds 3000 characters


class ChatPostArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = Field(min_length=1, max_length=MAX_CHAT_TEXT)


@dataclass(frozen=True, slots=True)
class ChatCall:
    incident_id: int
    text: str


class ChatPost:
    name: ClassVar[str] = "chat.post"
    effect: ClassVar[Effect] = "write"
    args_model: ClassVar[type[BaseModel]] = ChatPostArgs
    connection_types: ClassVar[frozenset[str]] = frozenset()

    def plan(self, args: object, connection: ConnectionBase | None, ctx: ActionContext) -> Planned:
        checked = ChatPostArgs.model_validate(args)
        shown = {"method": "chat", "to": "incident thread", "text": checked.text}
        return Planned(shown=shown, call=ChatCall(ctx.incident_id, checked.text))

    async def run(
        self, planned: Planned, connection: ConnectionBase | None, io: ActionIO
    ) -> StepResult:
        call: ChatCall = planned.call
        if io.post_chat is None:
            error = "no chat is configured (slack: or discord:)"
            return StepResult(ok=False, summary=f"failed: {error}", error=error)
        try:
            where = await io.post_chat(call.incident_id, call.text)
        except Exception as exc:  # the chat layer's own errors: the step fails, the run goes on
            error = f"{type(exc).__name__}: {exc}"[:300]
            return StepResult(ok=False, summary="failed: the message was not posted", error=error)
        if not where:
            return StepResult(ok=True, summary="not posted: the incident has no chat thread")
        return StepResult(ok=True, summary=f"posted to {where}", facts={"posted_to": where})
