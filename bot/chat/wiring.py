"""Wires the chat surfaces into the app: command contexts, Slack, Discord, silences API, CLI.

The composition root calls `install_chat(app, rt)` after `create_app` (and after
`install_paging`, so the outbox exists), and `add_chat_cli(subparsers)` in the CLI.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

from bot.chat.sync import Background, ChatSync
from bot.commands import Actor, CommandContext, Surface
from bot.http import silences_api
from bot.runtime.state import Runtime
from bot.workers.paging_delivery import LinkSettings
from integrations.notifiers import Notifier
from routing.intake.alert import Alert
from routing.intake.ingest import Submission

if TYPE_CHECKING:
    from bot.chat.slack import SlackSurface


def link_settings(rt: Runtime) -> LinkSettings:
    s = rt.settings
    command = s.slack.command if s.slack else "/incident"
    return LinkSettings(
        public_url=s.public_url, chat_command=command if s.slack or s.discord else None
    )


def command_context(rt: Runtime, surface: Surface) -> CommandContext:
    """The command layer's view of the running app, for one surface."""
    s = rt.settings
    allow = False
    prefix = "/incident"
    if surface == "slack" and s.slack is not None:
        allow, prefix = s.slack.allow_unknown_users, s.slack.command
    elif surface == "discord" and s.discord is not None:
        allow = s.discord.allow_unknown_users
    elif surface == "cli":
        prefix = "firebell incident"

    async def submit_alert(alert: Alert, body: bytes) -> int | None:
        outcome = await rt.intake.submit(
            Submission(
                source=alert.source, alerts=[alert], body=body, content_type="application/json"
            )
        )
        return outcome.alerts[0].incident_id if outcome.alerts else None

    return CommandContext(
        engine=rt.engine,
        config=s,
        clock=rt.clock,
        submit_alert=submit_alert,
        allow_unknown_users=allow,
        changed=rt.extras.setdefault("incident_changed", []),
        playbooks=rt.extras.get("playbooks", {}),
        run_playbook=rt.extras.get("run_playbook"),
        prefix=prefix,
    )


@dataclass
class Chat:
    """What install_chat added (kept in rt.extras["chat"])."""

    sync: ChatSync
    background: Background
    slack: SlackSurface | None = None


def install_chat(
    app: FastAPI, rt: Runtime, *, notifiers: Mapping[str, Notifier] | None = None
) -> Chat:
    """Mount /slack/events, /discord/interactions and /api/v1/silences; keep messages in sync.

    `notifiers` replaces the Slack/Discord notifiers built from the config (tests).
    """
    background = Background()
    sync = ChatSync(rt, link_settings(rt), background, notifiers)
    chat = Chat(sync, background)
    rt.extras.setdefault("incident_changed", []).append(sync.incident_changed)
    rt.intake.committed.append(sync.committed_hook)
    rt.extras["chat"] = chat
    app.include_router(silences_api.router)
    if rt.settings.slack is not None:
        from bot.chat.slack import SlackSurface

        chat.slack = SlackSurface(rt, background)
        app.include_router(chat.slack.router())
    if rt.settings.discord is not None:
        from bot.chat.discord_http import router as discord_router

        app.include_router(discord_router(rt.settings.discord.public_key))

    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with inner(app) as state:
            await sync.start()
            try:
                yield state
            finally:
                await sync.stop()

    app.router.lifespan_context = lifespan
    return chat


# --------------------------------------------------------------------------- CLI


def add_chat_cli(subparsers: Any) -> None:
    """`firebell incident ...`, `firebell discord` and `firebell slack-socket`."""
    config_help = "config file (default: $FIREBELL_CONFIG, else ./firebell.yaml, else built-in)"
    incident = subparsers.add_parser(
        "incident", help="run an incident command (same words as /incident in chat)"
    )
    incident.description = (
        "Run one incident command against the configured database, e.g. "
        "`firebell incident list`, `firebell incident ack 42`, "
        "`firebell incident silence service=api 2h deploy`. `firebell incident help` lists them."
    )
    incident.add_argument("words", nargs=argparse.REMAINDER, help="the command and its arguments")
    incident.add_argument(
        "--as", dest="as_user", help="the firebell user acting (for the timeline)"
    )
    incident.add_argument("--config", help=config_help)
    incident.set_defaults(func=cmd_incident)

    discord = subparsers.add_parser("discord", help="run the Discord bot (gateway)")
    discord.description = "Connect to Discord and serve /incident commands and incident buttons."
    discord.add_argument("--config", help=config_help)
    discord.add_argument("--log-level", default="info", help="debug, info, warning, error")
    discord.set_defaults(func=cmd_discord)

    socket = subparsers.add_parser("slack-socket", help="run the Slack app over Socket Mode")
    socket.description = (
        "Serve Slack over Socket Mode (needs slack.app_token), for hosts Slack cannot reach."
    )
    socket.add_argument("--config", help=config_help)
    socket.add_argument("--log-level", default="info", help="debug, info, warning, error")
    socket.set_defaults(func=cmd_slack_socket)


def _app_for(config: str | None) -> tuple[FastAPI, Runtime]:
    from bot.cli.main import load_settings
    from bot.http.app import create_app

    app = create_app(load_settings(config), serves_http=False)
    rt: Runtime = app.state.runtime
    if "chat" not in rt.extras:
        install_chat(app, rt)
    return app, rt


def cmd_incident(args: argparse.Namespace) -> int:
    from bot.commands import CommandError, execute, parse_command

    words = [w for w in args.words if w != "--"]
    # The words are joined back as typed; quotes inside one word (matchers) survive.
    command = parse_command(" ".join(words), prefix="firebell incident")
    if isinstance(command, CommandError):
        print(f"firebell: {command.message}", file=sys.stderr)
        return 2
    app, rt = _app_for(args.config)
    if args.as_user and args.as_user not in rt.settings.users_by_name:
        known = ", ".join(sorted(rt.settings.users_by_name)) or "none defined"
        print(f"firebell: --as: unknown user {args.as_user!r} (known: {known})", file=sys.stderr)
        return 2

    async def run() -> int:
        async with app.router.lifespan_context(app):
            reply = await execute(command, Actor(args.as_user, "cli"), command_context(rt, "cli"))
        print(reply.text, file=sys.stdout if reply.ok else sys.stderr)
        return 0 if reply.ok else 1

    return asyncio.run(run())


def cmd_discord(args: argparse.Namespace) -> int:
    from bot.chat.discord_gateway import run_discord_bot
    from bot.runtime.logs import configure_logging

    app, rt = _app_for(args.config)
    configure_logging(args.log_level.upper(), rt.settings.secret_values())
    if rt.settings.discord is None:
        print("firebell: the config has no `discord:` section", file=sys.stderr)
        return 2
    return asyncio.run(run_discord_bot(app, rt))


def cmd_slack_socket(args: argparse.Namespace) -> int:
    from bot.chat.slack import run_socket_mode
    from bot.runtime.logs import configure_logging

    app, rt = _app_for(args.config)
    configure_logging(args.log_level.upper(), rt.settings.secret_values())
    slack = rt.settings.slack
    if slack is None or not slack.app_token:
        print(
            "firebell: Socket Mode needs slack.app_token (xapp-...) in the config", file=sys.stderr
        )
        return 2
    return asyncio.run(run_socket_mode(app, rt))
