"""`firebell incident ...`, `firebell discord` and `firebell slack-socket`: the command
role (database, intake writer, chat sync; no listener, no worker) plus their job."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from bot.cli.settings import CONFIG_HELP, load_settings


def add_chat_cli(subparsers: Any) -> None:
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
    incident.add_argument("--config", help=CONFIG_HELP)
    incident.set_defaults(func=cmd_incident)

    discord = subparsers.add_parser("discord", help="run the Discord bot (gateway)")
    discord.description = "Connect to Discord and serve /incident commands and incident buttons."
    discord.add_argument("--config", help=CONFIG_HELP)
    discord.add_argument("--log-level", default="info", help="debug, info, warning, error")
    discord.set_defaults(func=cmd_discord)

    socket = subparsers.add_parser("slack-socket", help="run the Slack app over Socket Mode")
    socket.description = (
        "Serve Slack over Socket Mode (needs slack.app_token), for hosts Slack cannot reach."
    )
    socket.add_argument("--config", help=CONFIG_HELP)
    socket.add_argument("--log-level", default="info", help="debug, info, warning, error")
    socket.set_defaults(func=cmd_slack_socket)


def cmd_incident(args: argparse.Namespace) -> int:
    from bot.chat.context import command_context
    from bot.commands import Actor, CommandError, execute, parse_command
    from bot.roles import command_runtime

    words = [w for w in args.words if w != "--"]
    # The words are joined back as typed; quotes inside one word (matchers) survive.
    command = parse_command(" ".join(words), prefix="firebell incident")
    if isinstance(command, CommandError):
        print(f"firebell: {command.message}", file=sys.stderr)
        return 2
    settings = load_settings(args.config)
    if args.as_user and args.as_user not in settings.users_by_name:
        known = ", ".join(sorted(settings.users_by_name)) or "none defined"
        print(f"firebell: --as: unknown user {args.as_user!r} (known: {known})", file=sys.stderr)
        return 2
    rt = command_runtime(settings)

    async def run() -> int:
        async with rt.lifecycle.running():
            reply = await execute(command, Actor(args.as_user, "cli"), command_context(rt, "cli"))
        print(reply.text, file=sys.stdout if reply.ok else sys.stderr)
        return 0 if reply.ok else 1

    return asyncio.run(run())


def cmd_discord(args: argparse.Namespace) -> int:
    from bot.chat.discord_gateway import run_discord_bot
    from bot.roles import command_runtime
    from bot.runtime.logs import configure_logging

    settings = load_settings(args.config)
    configure_logging(args.log_level.upper(), settings.secret_values())
    if settings.discord is None:
        print("firebell: the config has no `discord:` section", file=sys.stderr)
        return 2
    return asyncio.run(run_discord_bot(command_runtime(settings)))


def cmd_slack_socket(args: argparse.Namespace) -> int:
    from bot.chat.slack import run_socket_mode
    from bot.chat.wiring import slack_surface
    from bot.roles import command_runtime
    from bot.runtime.logs import configure_logging

    settings = load_settings(args.config)
    configure_logging(args.log_level.upper(), settings.secret_values())
    slack = settings.slack
    if slack is None or not slack.app_token:
        print(
            "firebell: Socket Mode needs slack.app_token (xapp-...) in the config", file=sys.stderr
        )
        return 2
    rt = command_runtime(settings)
    return asyncio.run(run_socket_mode(rt, slack_surface(rt)))
