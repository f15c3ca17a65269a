"""`firebell incident ...`, `firebell discord` and `firebell slack-socket`: the command
role (database, intake writer, chat sync; no listener, no worker) plus their job."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Mapping
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
        "--as",
        dest="as_user",
        help="the firebell user acting: the timeline names them, and their role (users:) "
        "decides what they may do (default: the user named like your OS login, if any; "
        "without one, only reading commands run)",
    )
    incident.add_argument(
        "--json",
        action="store_true",
        help="print the answer as JSON in the REST API's shapes (list, show, silences, oncall), "
        'errors as {"error"} on stderr',
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
    from bot.cli.output import print_reply
    from bot.commands import Actor, CommandError, execute, parse_command
    from bot.roles import command_runtime

    words, trailing = _options_among_words(args.words)
    as_user = trailing.get("as", args.as_user)
    as_json = args.json or "json" in trailing
    config = trailing.get("config", args.config)
    missing = [name for name in _TRAILING_VALUED if trailing.get(name) == ""]
    if missing:
        print(f"firebell: --{missing[0]} needs a value", file=sys.stderr)
        return 2
    if words[:1] == ["postmortem"]:  # a document, not a chat command (bot.cli.report)
        from bot.cli.report import cmd_postmortem

        return cmd_postmortem(words[1:], config, as_json)
    # The words are joined back as typed; quotes inside one word (matchers) survive.
    command = parse_command(" ".join(words), prefix="firebell incident")
    if isinstance(command, CommandError):
        print(f"firebell: {command.message}", file=sys.stderr)
        return 2
    settings = load_settings(config)
    if as_user is not None and as_user not in settings.users_by_name:
        known = ", ".join(sorted(settings.users_by_name)) or "none defined"
        print(f"firebell: --as: unknown user {as_user!r} (known: {known})", file=sys.stderr)
        return 2
    actor = Actor(cli_user(as_user, settings.users_by_name), "cli")
    rt = command_runtime(settings)

    async def run() -> int:
        async with rt.lifecycle.running():
            reply = await execute(command, actor, command_context(rt, "cli"))
        print_reply(reply, as_json=as_json, table=command.name)
        return 0 if reply.ok else 1

    return asyncio.run(run())


# The options `firebell incident` also takes after the command's words, where argparse
# leaves them (REMAINDER): with their value, or a flag.
_TRAILING_VALUED = ("as", "config")
_TRAILING_FLAGS = ("json",)


def _options_among_words(words: list[str]) -> tuple[list[str], dict[str, str]]:
    """`--as NAME`, `--config FILE` (or `--as=NAME`, `--config=FILE`) and `--json`
    written after the command (`firebell incident ack 42 --as alice`): taken out of the
    words, where they must not become note text, into {name: value} (a flag's value is
    ""). `--` separators are dropped too."""
    kept: list[str] = []
    found: dict[str, str] = {}
    rest = iter(words)
    for word in rest:
        name, equals, value = word.removeprefix("--").partition("=")
        if word == "--":
            continue
        if word.startswith("--") and name in _TRAILING_VALUED:
            found[name] = value if equals else next(rest, "")
        elif word.startswith("--") and name in _TRAILING_FLAGS and not equals:
            found[name] = ""
        else:
            kept.append(word)
    return kept, found


def cli_user(as_user: str | None, users: Mapping[str, object]) -> str | None:
    """Who the CLI acts as: --as, else the firebell user named like the OS login, else
    nobody (reading commands only). The CLI reads the config and the database itself, so
    --as is attribution and a guard against slips, not a barrier against its operator."""
    if as_user:
        return as_user
    try:
        login = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no $USER (some containers)
        return None
    return login if login in users else None


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
