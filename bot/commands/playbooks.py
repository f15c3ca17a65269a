"""Running `run`: a configured playbook for an incident."""

from __future__ import annotations

import asyncio

from bot.commands.context import Actor, CommandContext, Reply, error_reply
from bot.commands.model import RunPlaybook
from routing.response import incidents


async def run_playbook(command: RunPlaybook, actor: Actor, ctx: CommandContext) -> Reply:
    def exists() -> None:
        with ctx.engine.connect() as conn:
            incidents.get_incident(conn, command.incident_id, details=False)

    await asyncio.to_thread(exists)
    known = ", ".join(sorted(ctx.playbooks))
    if not command.playbook:  # the "Run playbook" button names none
        if not ctx.playbooks:
            return error_reply(
                f"no playbooks are configured, so there is nothing to run for incident "
                f"#{command.incident_id}"
            )
        return error_reply(
            f"which playbook? {ctx.prefix} run {command.incident_id} NAME (known: {known})"
        )
    if command.playbook not in ctx.playbooks or ctx.run_playbook is None:
        choices = f"known: {known}" if ctx.playbooks else "no playbooks are configured"
        return error_reply(f"no such playbook: {command.playbook} ({choices})")
    text = await ctx.run_playbook(command.incident_id, command.playbook, actor)
    return Reply(text, "public", command.incident_id, True, action="run")
