"""Running a Command for an Actor: the permission check, then the command family that runs it."""

from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from bot.commands.context import Actor, CommandContext, Reply, error_reply
from bot.commands.formatting import zone_of
from bot.commands.incidents import (
    acknowledge,
    add_note,
    list_incidents,
    resolve,
    show_incident,
)
from bot.commands.model import (
    Ack,
    Command,
    Help,
    ListIncidents,
    ListSilences,
    Note,
    Oncall,
    Page,
    Resolve,
    RunPlaybook,
    ShowIncident,
    SilenceAlerts,
    Unsilence,
)
from bot.commands.oncall import oncall
from bot.commands.paging import page_by_hand
from bot.commands.permissions import denied_reply, may_run
from bot.commands.playbooks import run_playbook
from bot.commands.silences import list_silences, silence_alerts, unsilence
from bot.commands.specs import help_text
from routing.response import incidents


async def execute(command: Command, actor: Actor, ctx: CommandContext) -> Reply:
    """Run one command; errors become ephemeral replies saying what to do instead."""
    if not may_run(command, actor, ctx):
        return denied_reply(command, actor, ctx)
    try:
        reply = await _dispatch(command, actor, ctx)
    except incidents.IncidentNotFound as exc:
        return error_reply(f"{exc} (see {ctx.prefix} list all)")
    except incidents.InvalidTransition as exc:
        return error_reply(str(exc))
    if reply.changed and reply.incident_id is not None and reply.action:
        for hook in ctx.changed:
            hook(reply.incident_id, reply.action)
    return reply


async def _dispatch(command: Command, actor: Actor, ctx: CommandContext) -> Reply:
    if isinstance(command, Help):
        return Reply(help_text(command.topic, ctx.prefix))
    if isinstance(command, Page):
        return await page_by_hand(command, actor, ctx)
    if isinstance(command, RunPlaybook):
        return await run_playbook(command, actor, ctx)
    # The database calls block: they run off the event loop.
    return await asyncio.to_thread(_in_database, command, actor, ctx)


def _in_database(command: Command, actor: Actor, ctx: CommandContext) -> Reply:
    now = ctx.clock()
    zone = zone_of(actor, ctx.config)
    if isinstance(command, Oncall):
        return oncall(command, ctx.config, now, zone, ctx.prefix)
    if not command.writes:
        with ctx.engine.connect() as conn:
            return _read(conn, command, ctx, now, zone)
    with ctx.engine.begin() as conn:
        return _change(conn, command, actor, ctx, now, zone)


def _read(
    conn: Connection, command: Command, ctx: CommandContext, now: datetime, zone: ZoneInfo
) -> Reply:
    if isinstance(command, ListIncidents):
        return list_incidents(conn, command, now)
    if isinstance(command, ShowIncident):
        return show_incident(conn, command, now, zone)
    if isinstance(command, ListSilences):
        return list_silences(conn, ctx, now, zone)
    raise TypeError(f"not a read-only database command: {command!r}")


def _change(
    conn: Connection,
    command: Command,
    actor: Actor,
    ctx: CommandContext,
    now: datetime,
    zone: ZoneInfo,
) -> Reply:
    who = actor.name
    if isinstance(command, Ack):
        return acknowledge(conn, command, who, now)
    if isinstance(command, Resolve):
        return resolve(conn, command, who, now)
    if isinstance(command, Note):
        return add_note(conn, command, who, now)
    if isinstance(command, SilenceAlerts):
        return silence_alerts(conn, command, actor, now, zone)
    if isinstance(command, Unsilence):
        return unsilence(conn, command, who, ctx, now)
    raise TypeError(f"not a state-changing command: {command!r}")
