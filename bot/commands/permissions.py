"""Who may change incidents: linked users, the CLI and the API; unknown chat users only read."""

from __future__ import annotations

from typing import get_args

from bot.commands.context import Actor, CommandContext, Reply, error_reply
from bot.commands.model import Command

# Named in the refusal so an unlinked user knows what they can still do.
READ_ONLY = tuple(kind.name for kind in get_args(Command) if not kind.writes)


def may_write(actor: Actor, ctx: CommandContext) -> bool:
    # The CLI runs with the config's own rights; the API has checked its bearer token.
    return actor.user is not None or actor.surface in ("cli", "api") or ctx.allow_unknown_users


def denied_reply(command: Command, actor: Actor, ctx: CommandContext) -> Reply:
    id_field = "slack_id" if actor.surface == "slack" else "discord_id"
    return error_reply(
        f"you are not linked to a firebell user ({actor.surface} id {actor.raw_id}), "
        f"so you may only read ({', '.join(READ_ONLY)}), not {command.name}. "
        f"To change incidents, add `{id_field}: {actor.raw_id}` to your entry under `users:` "
        f"in the firebell config (or set {actor.surface}.allow_unknown_users: true)."
    )
