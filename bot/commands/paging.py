"""Running `page`: open an incident by hand and page a user, team or schedule now."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from bot.commands.context import Actor, CommandContext, Reply, error_reply
from bot.commands.escalation import queue_manual_pages
from bot.commands.model import CommandError, Page
from bot.commands.specs import example
from bot.runtime.intake_writer import IntakeUnavailable
from routing.intake.alert import Alert, AlertStatus, Severity
from routing.intake.fingerprint import fingerprint_of
from routing.paging.escalation import Recipient, resolve_targets
from routing.paging.policy import PolicyConfig
from routing.response import incidents


def _resolve_page_target(target: str, config: PolicyConfig) -> str | CommandError:
    """ "alice" -> "user:alice", "ops" -> "team:ops"; prefixed targets are checked."""
    kind, sep, name = target.partition(":")
    if sep:
        tables: dict[str, Mapping[str, Any]] = {
            "user": config.users_by_name,
            "team": config.teams_by_name,
            "schedule": config.schedules_by_name,
        }
        if kind not in tables:
            return CommandError(
                f"page: {target!r}: write a user or team name, or user:NAME, team:NAME, "
                "schedule:NAME"
            )
        if name not in tables[kind]:
            known = ", ".join(sorted(tables[kind])) or "none defined"
            return CommandError(f"page: unknown {kind} {name!r} (known: {known})")
        return f"{kind}:{name}"
    is_user, is_team = target in config.users_by_name, target in config.teams_by_name
    if is_user and is_team:
        return CommandError(
            f"page: {target!r} is both a user and a team: write user:{target} or team:{target}"
        )
    if is_user:
        return f"user:{target}"
    if is_team:
        return f"team:{target}"
    users = ", ".join(sorted(config.users_by_name)) or "none defined"
    teams = ", ".join(sorted(config.teams_by_name)) or "none defined"
    return CommandError(f"page: no user or team named {target!r} (users: {users}; teams: {teams})")


def manual_alert(target: str, text: str, actor: Actor, page_id: str) -> Alert:
    """The alert a hand-made page stores, so it is deduplicated, grouped and shown like any."""
    title = " ".join(text.split())[:200]
    return Alert(
        source="manual",
        fingerprint=fingerprint_of("manual", {"page": page_id}),
        status=AlertStatus.FIRING,
        severity=Severity.CRITICAL,
        service="manual",
        title=title,
        description=text,
        labels={"alertname": title, "service": "manual", "paged": target},
        annotations={"summary": text, "paged_by": actor.name},
        fingerprint_fields={"page": page_id},
    )


async def page_by_hand(command: Page, actor: Actor, ctx: CommandContext) -> Reply:
    target = _resolve_page_target(command.target, ctx.config)
    if isinstance(target, CommandError):
        return error_reply(f"{target.message}: {example('page', ctx.prefix)}")
    if ctx.submit_alert is None:
        return error_reply("paging by hand is not available here (no alert intake is running)")
    now = ctx.clock()
    try:
        recipients = resolve_targets(
            [target], now, ctx.config.users_by_name, ctx.config.teams_by_name,
            ctx.config.schedules_by_name,
        )  # fmt: skip
    except KeyError as exc:
        return error_reply(f"page: {exc.args[0]}")
    if not recipients:
        return error_reply(
            f"page: {target} reaches nobody right now (no contacts or nobody on call)"
        )
    page_id = uuid.uuid4().hex
    body = json.dumps({"page": page_id, "target": target, "text": command.text, "by": actor.name})
    alert = manual_alert(target, command.text, actor, page_id)
    try:
        incident_id = await ctx.submit_alert(alert, body.encode())
    except IntakeUnavailable:
        return error_reply(
            "page: the alert intake is full or the database is not answering; nobody was "
            "paged: try again in a few seconds"
        )
    if incident_id is None:
        return error_reply("page: the alert was stored but opened no incident; nobody was paged")
    item = await asyncio.to_thread(
        _queue_pages, ctx, incident_id, page_id, target, recipients, actor, now
    )
    names = ", ".join(sorted({r.name for r in recipients}))
    return Reply(
        f"{actor.name} paged {target} ({names}): {command.text} · incident #{incident_id}",
        "public", incident_id, True, action="page", incident=item,
    )  # fmt: skip


def _queue_pages(
    ctx: CommandContext,
    incident_id: int,
    page_id: str,
    target: str,
    recipients: Sequence[Recipient],
    actor: Actor,
    now: datetime,
) -> dict[str, Any]:
    with ctx.engine.begin() as conn:
        queue_manual_pages(conn, incident_id, page_id, recipients, now)
        incidents.add_timeline(
            conn, incident_id, now, "paged", f"{actor.name} paged {target}", actor.name,
            {"target": target, "recipients": sorted({r.name for r in recipients})},
        )  # fmt: skip
        return incidents.get_incident(conn, incident_id, details=False)
