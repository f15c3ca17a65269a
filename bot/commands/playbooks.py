"""Running `run`: start a playbook for an incident, dry-run it, or (no name: the "Run
playbook" button) offer the playbooks that match the incident.

Everything goes through the PlaybookService, which decides what is refused and why, so
chat and the CLI answer as the REST API does. The run starts as the actor's firebell
user; execute() has already checked they may (the responder role).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from bot.commands.context import Actor, CommandContext, Reply, error_reply
from bot.commands.model import RunPlaybook
from playbooks.dry_run import request_line
from playbooks.service import PlaybookRefused, PlaybookService
from routing.response import incidents

MAX_LISTED = 20  # playbooks named in one answer


async def run_playbook(command: RunPlaybook, actor: Actor, ctx: CommandContext) -> Reply:
    service = ctx.playbook_service
    if service is None or not service.catalog.playbooks:
        await asyncio.to_thread(_check_incident, ctx, command.incident_id)
        if command.playbook:
            return error_reply(
                f"no such playbook: {command.playbook} (no playbooks are configured)"
            )
        return error_reply(
            f"no playbooks are configured, so there is nothing to run for incident "
            f"#{command.incident_id}"
        )
    try:
        if not command.playbook:
            return await asyncio.to_thread(_offer, service, command.incident_id)
        params = dict(command.params)
        if command.dry_run:
            plan = await service.dry_run(command.incident_id, command.playbook, params, actor.name)
            return Reply(
                dry_run_text(plan), "ephemeral", command.incident_id, action="dry_run", data=plan
            )
        run = await asyncio.to_thread(
            service.start, command.incident_id, command.playbook, params, actor.name
        )
    except PlaybookRefused as exc:
        return error_reply(refusal_text(exc, ctx.prefix))
    where = (
        f"follow it with firebell playbook logs {run['id']}"
        if actor.surface == "cli"
        else "progress in the thread"
    )
    return Reply(
        f"started playbook {run['playbook']} run #{run['id']} for incident "
        f"#{command.incident_id}; {where}",
        "public",
        command.incident_id,
        action="run",
        data=run,
    )


def _check_incident(ctx: CommandContext, incident_id: int) -> None:
    """IncidentNotFound (answered by execute) before saying there is nothing to run."""
    with ctx.engine.connect() as conn:
        incidents.get_incident(conn, incident_id, details=False)


def _offer(service: PlaybookService, incident_id: int) -> Reply:
    matching = service.matching(incident_id)
    if not matching:
        configured = ", ".join(sorted(service.catalog.playbooks)[:MAX_LISTED])
        return error_reply(
            f"no playbook matches incident #{incident_id} (configured: {configured})"
        )
    lines = [f"Playbooks for incident #{incident_id}:"]
    for playbook in matching[:MAX_LISTED]:
        about = f" — {playbook.spec.description}" if playbook.spec.description else ""
        lines.append(f"• {playbook.id}{about}")
    if len(matching) > MAX_LISTED:
        lines.append(f"… and {len(matching) - MAX_LISTED} more")
    return Reply(
        "\n".join(lines),
        "ephemeral",
        incident_id,
        action="offer",
        playbooks=tuple(p.id for p in matching),
    )


def refusal_text(exc: PlaybookRefused, prefix: str) -> str:
    if exc.field == "incident_id":
        return f"{exc.message} (see {prefix} list all)"
    if exc.field.startswith("params."):
        return f"parameter {exc.field.removeprefix('params.')}: {exc.message}"
    return exc.message


def dry_run_text(plan: Mapping[str, Any]) -> str:
    """The plan as chat shows it: per step what it uses, what it would send, its `if`."""
    params = " ".join(f"{k}={v}" for k, v in (plan.get("params") or {}).items())
    sent = int(plan.get("sent") or 0)
    head = (
        f"Dry-run of {plan['playbook']} for incident #{plan['incident_id']}"
        f"{f' ({params})' if params else ''}: "
        f"{'nothing sent' if not sent else f'{sent} read(s) sent'}"
    )
    lines = [head]
    for index, step in enumerate(plan.get("steps") or [], 1):
        shown = request_line(step.get("request")) or "cannot be planned"
        line = f"{index}. {step['id']} ({step['uses']}): {shown}"
        condition = step.get("if")
        if condition is not None:
            line += f" · if: {_if_text(condition)}"
        if step.get("note"):
            line += f" · {step['note']}"
        if step.get("result"):
            line += f" · read: {step['result']}"
        lines.append(line)
    return "\n".join(lines)


def _if_text(condition: Any) -> str:
    if condition is True:
        return "true"
    if condition is False:
        return "false (skipped)"
    return str(condition)
