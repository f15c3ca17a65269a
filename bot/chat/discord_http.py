"""Discord's HTTP interactions endpoint: POST /discord/interactions (Ed25519-signed).

PING answers PONG; `/incident ...` runs the command layer and answers with a message
(ephemeral where it concerns only the caller); an incident button changes the incident
and answers "update message" so the clicked message changes in place. Work that could
outlast Discord's 3-second limit is deferred and finished with a follow-up edit.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from bot.chat.approval_render import parse_discord_click
from bot.chat.context import command_context
from bot.chat.discord_shape import shape_error
from bot.chat.sync import ChatSync, answered_refs
from bot.commands import (
    Command,
    CommandError,
    Reply,
    RunPlaybook,
    button_command,
    command_from_options,
    discord_actor,
    execute,
)
from bot.runtime.problems import problem_response
from bot.runtime.state import Runtime
from integrations.notifiers.button import (
    discord_playbook_components,
    parse_discord_custom_id,
    parse_discord_playbook_custom_id,
)
from integrations.notifiers.discord_embed import (
    DISCORD_CONTENT_LIMIT,
    discord_components,
    discord_message,
    render_discord_embed,
)
from integrations.notifiers.message import clip

log = logging.getLogger("firebell.discord")

PING, APPLICATION_COMMAND, MESSAGE_COMPONENT = 1, 2, 3
PONG, CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, UPDATE_MESSAGE = 1, 4, 5, 7
EPHEMERAL = 64
SUB_COMMAND = 1
PLAYBOOK_ACTIONS = ("run", "dry_run", "offer")  # answers about a playbook, not the incident
MAX_SKEW_SECONDS = 300  # a captured request replayed later is refused
ANSWER_WITHIN = 2.5  # seconds; Discord drops answers after 3


def verify_signature(
    key: VerifyKey, signature_hex: str, timestamp: str, body: bytes, now: datetime
) -> bool:
    """Ed25519 over timestamp + body, and a timestamp within 5 minutes of now."""
    try:
        signature = bytes.fromhex(signature_hex)
        key.verify(timestamp.encode() + body, signature)
    except (ValueError, BadSignatureError):
        return False
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    return abs(now.timestamp() - sent) <= MAX_SKEW_SECONDS


def interaction_user(payload: Mapping[str, Any]) -> tuple[str, str]:
    """(id, name) of who interacted: `member.user` in a guild, `user` in a DM."""
    user = (payload.get("member") or {}).get("user") or payload.get("user") or {}
    return str(user.get("id") or ""), str(user.get("global_name") or user.get("username") or "")


def subcommand(data: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """/incident ack id:42 arrives as name "incident", options [{type 1, name "ack", ...}]."""
    options = data.get("options") or []
    if options and options[0].get("type") == SUB_COMMAND:
        sub = options[0]
        return str(sub.get("name") or ""), {
            o["name"]: o.get("value") for o in sub.get("options") or []
        }
    return str(data.get("name") or ""), {o["name"]: o.get("value") for o in options}


def message_body(
    reply: Reply, embed: dict[str, Any] | None = None, components: list[Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "content": clip(reply.text, DISCORD_CONTENT_LIMIT),
        "allowed_mentions": {"parse": []},  # incident text must never ping anyone
    }
    if embed is not None:
        body["embeds"] = [embed]
    if components is not None:
        body["components"] = components
    if reply.visibility == "ephemeral":
        body["flags"] = EPHEMERAL
    return body


async def reply_message(sync: ChatSync, reply: Reply) -> dict[str, Any]:
    """The reply with the incident as an embed (coloured by severity) where there is one."""
    if reply.incident_id is None or not reply.ok or reply.action in PLAYBOOK_ACTIONS:
        return message_body(reply)
    notification = await sync.render(reply.incident_id)
    if notification is None:
        return message_body(reply)
    # Buttons on a shown incident let the reader act on it right there.
    components = discord_components(notification) if reply.action is None else None
    return message_body(reply, render_discord_embed(notification), components)


def router(public_key_hex: str) -> APIRouter:
    key = VerifyKey(bytes.fromhex(public_key_hex))
    api = APIRouter()

    @api.post("/discord/interactions", include_in_schema=False)
    async def interactions(request: Request) -> Response:
        rt: Runtime = request.app.state.runtime
        # An oversized body never gets here: the app's BodyLimit answers 413 first.
        body = await request.body()
        ok = verify_signature(
            key,
            request.headers.get("x-signature-ed25519", ""),
            request.headers.get("x-signature-timestamp", ""),
            body,
            rt.clock(),
        )
        if not ok:
            return problem_response(401, "missing or invalid request signature")
        try:
            payload = json.loads(body)
        except ValueError:  # not JSON, or not UTF-8
            payload = None
        refused = shape_error(payload)
        if refused is not None:
            return problem_response(400, refused[1], refused[0])
        kind = payload["type"]
        if kind == PING:
            return JSONResponse({"type": PONG})
        if kind == APPLICATION_COMMAND:
            # rt.extras["discord_answer_within"] (seconds) overrides the deadline (tests).
            within = float(rt.extras.get("discord_answer_within", ANSWER_WITHIN))
            return JSONResponse(await _command(rt, payload, within))
        if kind == MESSAGE_COMPONENT:
            return JSONResponse(await _component(rt, payload))
        return problem_response(400, f"type: unsupported interaction type {kind}", "type")

    return api


async def _command(rt: Runtime, payload: Mapping[str, Any], answer_within: float) -> dict[str, Any]:
    sync: ChatSync = rt.extras["chat"].sync
    name, options = subcommand(payload.get("data") or {})
    command = command_from_options(name, options)
    if isinstance(command, CommandError):
        return {"type": CHANNEL_MESSAGE, "data": message_body(Reply(command.message, ok=False))}
    work = asyncio.ensure_future(_answer(rt, sync, command, payload))
    rt.extras["chat"].background.track(work)
    try:
        data = await asyncio.wait_for(asyncio.shield(work), answer_within)
    except TimeoutError:
        # Too slow for the first answer: say "thinking…" now and edit it when done.
        follow = asyncio.ensure_future(_follow_up(rt, work, payload))
        rt.extras["chat"].background.track(follow)
        return {"type": DEFERRED_CHANNEL_MESSAGE, "data": {"flags": EPHEMERAL}}
    return {"type": CHANNEL_MESSAGE, "data": data}


async def _answer(
    rt: Runtime, sync: ChatSync, command: Command, payload: Mapping[str, Any]
) -> dict[str, Any]:
    user_id, handle = interaction_user(payload)
    actor = discord_actor(rt.settings, user_id, handle)
    try:
        reply = await execute(command, actor, command_context(rt, "discord"))
    except Exception:
        log.exception("discord command failed")
        reply = Reply("something went wrong running that command; see the firebell log", ok=False)
    return await reply_message(sync, reply)


async def _follow_up(
    rt: Runtime, work: asyncio.Future[dict[str, Any]], payload: Mapping[str, Any]
) -> None:
    data = await work
    cfg = rt.settings.discord
    assert cfg is not None
    url = (
        f"{cfg.api_url.rstrip('/')}/webhooks/{payload.get('application_id') or cfg.application_id}"
        f"/{payload['token']}/messages/@original"
    )
    async with httpx.AsyncClient(timeout=15.0) as client:
        response = await client.patch(url, json={k: v for k, v in data.items() if k != "flags"})
    if response.status_code >= 300:
        log.warning("discord follow-up failed: HTTP %s", response.status_code)


async def _component(rt: Runtime, payload: Mapping[str, Any]) -> dict[str, Any]:
    sync: ChatSync = rt.extras["chat"].sync
    data = payload.get("data") or {}
    click = parse_discord_click(str(data.get("custom_id") or ""))
    if click is not None:  # Approve / Reject / Request again: answered to the presser only
        user = discord_actor(rt.settings, interaction_user(payload)[0]).user
        _ok, text = await rt.extras["chat"].approvals.click(click, user, "discord")
        return {"type": CHANNEL_MESSAGE, "data": message_body(Reply(text, "ephemeral"))}
    picked = parse_discord_playbook_custom_id(str(data.get("custom_id") or ""))
    if picked is not None:
        return await _playbook_component(rt, payload, *picked)
    try:
        action, incident_id = parse_discord_custom_id(str(data.get("custom_id") or ""))
    except ValueError as exc:
        return {"type": CHANNEL_MESSAGE, "data": message_body(Reply(str(exc), ok=False))}
    message = payload.get("message") or {}
    ref = f"{message.get('channel_id') or payload.get('channel_id')}:{message.get('id')}"
    user_id, handle = interaction_user(payload)
    actor = discord_actor(rt.settings, user_id, handle)
    token = answered_refs.set(frozenset({f"discord:{ref}"}))
    try:
        reply = await execute(
            button_command(action, incident_id, "discord"), actor, command_context(rt, "discord")
        )
    finally:
        answered_refs.reset(token)
    if reply.playbooks:  # "Run playbook": the choices, for the presser only
        components = discord_playbook_components(incident_id, reply.playbooks)
        return {"type": CHANNEL_MESSAGE, "data": message_body(reply, components=components)}
    if not reply.ok:
        return {"type": CHANNEL_MESSAGE, "data": message_body(reply)}
    notification = await sync.render(incident_id, "discord", ref)
    if notification is None:
        return {"type": CHANNEL_MESSAGE, "data": message_body(reply)}
    return {"type": UPDATE_MESSAGE, "data": discord_message(notification)}


async def _playbook_component(
    rt: Runtime, payload: Mapping[str, Any], mode: str, playbook: str, incident_id: int
) -> dict[str, Any]:
    """Run or Dry-run on the chooser, as the presser: a started run replaces the chooser,
    a plan comes as a new ephemeral message (the chooser stays for another choice)."""
    user_id, handle = interaction_user(payload)
    actor = discord_actor(rt.settings, user_id, handle)
    command = RunPlaybook(incident_id, playbook, dry_run=mode == "dry")
    reply = await execute(command, actor, command_context(rt, "discord"))
    if reply.ok and not command.dry_run:
        body = message_body(reply)
        body.pop("flags", None)  # an update keeps the message's own flags
        return {"type": UPDATE_MESSAGE, "data": {**body, "components": []}}
    return {"type": CHANNEL_MESSAGE, "data": message_body(Reply(reply.text, ok=reply.ok))}
