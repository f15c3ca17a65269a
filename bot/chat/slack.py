"""The Slack surface (slack-bolt, async): `/incident ...` and the incident buttons.

HTTP mode: Slack POSTs to /slack/events on any replica; slack-bolt checks the signing
secret and the 5-minute timestamp window (401 otherwise). Every listener acks first
and does its work after the 3-second answer went out; answers go back through the
request's `response_url`, and incident messages are edited by ChatSync. `authorize`
hands bolt the configured bot token, so no `auth.test` round trip is ever made.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import APIRouter, Request
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from starlette.responses import Response

from bot.chat.approval_render import SLACK_APPROVAL_ACTIONS, parse_slack_click
from bot.chat.context import command_context
from bot.chat.sync import Background, origin_refs
from bot.commands import (
    Command,
    CommandError,
    Reply,
    RunPlaybook,
    button_command,
    execute,
    parse_command,
    slack_actor,
)
from bot.runtime.problems import problem_response
from bot.runtime.signals import stop_requested
from bot.runtime.state import Runtime
from integrations.notifiers.button import (
    SLACK_PLAYBOOK_ACTIONS,
    parse_slack_action,
    parse_slack_playbook_action,
    slack_playbook_blocks,
)
from integrations.notifiers.message import clip
from integrations.notifiers.slack_blocks import SLACK_FALLBACK_LIMIT, slack_escape

log = logging.getLogger("firebell.slack")

BUTTON_ACTIONS = re.compile(r"^incident_(ack|resolve|silence_1h|run_playbook)$")
Respond = Callable[..., Awaitable[Any]]


def slack_text(reply: Reply) -> str:
    return clip(slack_escape(reply.text), SLACK_FALLBACK_LIMIT)


class SlackSurface:
    def __init__(self, rt: Runtime, background: Background) -> None:
        cfg = rt.settings.slack
        assert cfg is not None, "install_chat builds the Slack surface only when configured"
        self.rt = rt
        self.background = background
        self.command_name = cfg.command
        api_url = cfg.api_url if cfg.api_url.endswith("/") else cfg.api_url + "/"
        # No token here: `authorize` supplies it per request (bolt ignores one set here).
        self.client = AsyncWebClient(base_url=api_url)
        bot_token = cfg.bot_token

        async def authorize(enterprise_id: str | None, team_id: str | None, **_: Any) -> Any:
            # One workspace, one bot token from the config: nothing to look up.
            return AuthorizeResult(
                enterprise_id=enterprise_id, team_id=team_id, bot_token=bot_token
            )

        self.bolt = AsyncApp(
            client=self.client,
            signing_secret=cfg.signing_secret,
            authorize=authorize,
            process_before_response=False,
            raise_error_for_unhandled_request=False,
        )
        self.bolt.command(cfg.command)(self._on_command)
        self.bolt.action(BUTTON_ACTIONS)(self._on_button)
        self.bolt.action(SLACK_PLAYBOOK_ACTIONS)(self._on_playbook_button)
        self.bolt.action(SLACK_APPROVAL_ACTIONS)(self._on_approval_button)
        self.handler = AsyncSlackRequestHandler(self.bolt)
        self.verifier = SignatureVerifier(cfg.signing_secret)

    def router(self) -> APIRouter:
        router = APIRouter()
        handler = self.handler

        @router.post("/slack/events", include_in_schema=False)
        async def slack_events(request: Request) -> Response:
            # The app's BodyLimit (bot.http.body_limit) refuses an oversized body with 413
            # before it is buffered; Starlette caches it for bolt's own `request.body()`.
            body = await request.body()
            # Checked here as well as by bolt: bolt parses the body before it verifies,
            # and an unsigned non-JSON body or a non-numeric timestamp raised there (500).
            if not signed_by_slack(self.verifier, body, request.headers):
                return problem_response(401, "missing or invalid Slack request signature")
            try:
                response: Response = await handler.handle(request)
            except ValueError:  # signed, yet not JSON, a form or UTF-8: not Slack's shape
                return problem_response(400, "body: not a Slack event, command or action")
            return as_problem(response)

        return router

    async def _run(
        self, command: Command, body: Mapping[str, Any], origins: Mapping[str, str]
    ) -> Reply:
        user = body.get("user") or {}
        user_id = body.get("user_id") or user.get("id") or ""
        handle = body.get("user_name") or user.get("username") or user.get("name") or ""
        actor = slack_actor(self.rt.settings, user_id, handle)
        token = origin_refs.set(origins)
        try:
            return await execute(command, actor, command_context(self.rt, "slack"))
        finally:
            origin_refs.reset(token)

    async def _on_command(self, ack: Any, body: dict[str, Any], respond: Respond) -> None:
        self.background.current()
        await ack()  # within 3 s, before any database work
        command = parse_command(body.get("text") or "", prefix=self.command_name)
        try:
            if isinstance(command, CommandError):
                reply = Reply(command.message, ok=False)
            else:
                reply = await self._run(command, body, {})
        except Exception:
            log.exception("slash command failed")
            reply = Reply(
                "something went wrong running that command; see the firebell log", ok=False
            )
        await respond(
            text=slack_text(reply),
            response_type="in_channel" if reply.visibility == "public" else "ephemeral",
        )

    async def _on_button(
        self, ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Respond
    ) -> None:
        self.background.current()
        await ack()
        try:
            kind, incident_id = parse_slack_action(action["action_id"], str(action.get("value")))
        except ValueError as exc:
            await respond(text=str(exc), response_type="ephemeral", replace_original=False)
            return
        container = body.get("container") or {}
        channel, ts = container.get("channel_id"), container.get("message_ts")
        # An ephemeral message cannot be edited with chat.update; the response_url can.
        origins = {}
        if channel and ts and not container.get("is_ephemeral"):
            origins["slack"] = f"{channel}:{ts}"
        try:
            reply = await self._run(button_command(kind, incident_id, "slack"), body, origins)
        except Exception:
            log.exception("button %s failed", action.get("action_id"))
            reply = Reply("something went wrong; see the firebell log", ok=False)
        if reply.playbooks:  # "Run playbook": only the presser sees the choices
            blocks = slack_playbook_blocks(incident_id, slack_text(reply), reply.playbooks)
            await respond(
                text=slack_text(reply),
                blocks=blocks,
                response_type="ephemeral",
                replace_original=False,
            )
        elif not reply.ok:
            await respond(text=slack_text(reply), response_type="ephemeral", replace_original=False)
        elif not origins:
            await respond(text=slack_text(reply), replace_original=True)

    async def _on_playbook_button(
        self, ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Respond
    ) -> None:
        """Run or Dry-run on the chooser: as the presser, answered in place of the chooser
        (a started run) or next to it (a plan, so another choice stays possible)."""
        self.background.current()
        await ack()
        try:
            mode, playbook, incident_id = parse_slack_playbook_action(
                action["action_id"], str(action.get("value"))
            )
        except ValueError as exc:
            await respond(text=str(exc), response_type="ephemeral", replace_original=False)
            return
        command = RunPlaybook(incident_id, playbook, dry_run=mode == "dry")
        try:
            reply = await self._run(command, body, {})
        except Exception:
            log.exception("playbook button %s failed", action.get("action_id"))
            reply = Reply("something went wrong; see the firebell log", ok=False)
        replace = reply.ok and not command.dry_run
        await respond(text=slack_text(reply), response_type="ephemeral", replace_original=replace)

    async def _on_approval_button(
        self, ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Respond
    ) -> None:
        """Approve / Reject / Request again, as the linked firebell user of the presser
        (bolt has checked the signature); the answer is for the presser only, the
        approval message is refreshed from the rows."""
        self.background.current()
        await ack()
        try:
            click = parse_slack_click(action["action_id"], str(action.get("value")))
        except ValueError as exc:
            await respond(text=str(exc), response_type="ephemeral", replace_original=False)
            return
        user_id = (body.get("user") or {}).get("id") or ""
        user = slack_actor(self.rt.settings, user_id).user
        try:
            _ok, text = await self.rt.extras["chat"].approvals.click(click, user, "slack")
        except Exception:
            log.exception("approval button %s failed", action.get("action_id"))
            text = "something went wrong; see the firebell log"
        await respond(
            text=clip(slack_escape(text), SLACK_FALLBACK_LIMIT),
            response_type="ephemeral",
            replace_original=False,
        )


def signed_by_slack(verifier: SignatureVerifier, body: bytes, headers: Mapping[str, str]) -> bool:
    """X-Slack-Signature over the body, with a timestamp within 5 minutes; anything
    unparsable (a non-numeric timestamp, a non-UTF-8 body) is simply not signed."""
    try:
        return verifier.is_valid_request(body, headers)
    except ValueError:
        return False


def as_problem(response: Response) -> Response:
    """Bolt's own refusals (`{"error": "..."}`, or empty) in the one error shape."""
    if response.status_code < 400:
        return response
    detail = ""
    with contextlib.suppress(ValueError, AttributeError):
        detail = str(json.loads(bytes(response.body)).get("error") or "")
    return problem_response(response.status_code, detail or "request refused")


async def run_socket_mode(rt: Runtime, surface: SlackSurface) -> int:
    """`firebell slack-socket`: the same Slack app over a Socket Mode connection.

    Runs until SIGTERM or SIGINT (or until cancelled), then closes the socket and drains
    the chat work in flight, as `firebell serve` does on those signals.
    """
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    slack = rt.settings.slack
    assert slack is not None and slack.app_token
    async with stop_requested() as stop, rt.lifecycle.running():
        # apps.connections.open (app token) goes to slack.api_url, like every call.
        handler = AsyncSocketModeHandler(surface.bolt, slack.app_token)
        try:
            await handler.connect_async()
            log.info("connected to Slack over Socket Mode")
            await stop.wait()
        finally:
            # Close the socket and slack-sdk's aiohttp session and tasks, then leave
            # the lifespan (which drains the chat work the last envelopes started).
            await handler.close_async()
    return 0
