"""Who may run a command, on every surface (Slack, Discord, the CLI).

Each command needs a role: reading needs `viewer`; ack, resolve, note, silence, unsilence
and run need `responder`; paging by hand (it wakes people outside the rotation) needs
`admin`. Each actor has one: a linked chat user, or the CLI's user, has the `role` of
their entry under `users:` (default responder); an unlinked chat user is a viewer (a
responder where the surface's `allow_unknown_users` is on); the CLI without a user
(no --as, and the OS login names no firebell user) is a viewer.
"""

from __future__ import annotations

from typing import get_args

from bot.commands.context import Actor, CommandContext, Reply, error_reply
from bot.commands.model import Command, Page
from routing.oncall.people import Role, role_allows

# Named in the refusal so an unlinked user knows what they can still do.
READ_ONLY = tuple(kind.name for kind in get_args(Command) if not kind.writes)


def needed_role(command: Command) -> Role:
    if not command.writes:
        return "viewer"
    if isinstance(command, Page):
        return "admin"
    return "responder"


def role_of(actor: Actor, ctx: CommandContext) -> Role:
    if actor.user is not None:
        user = ctx.config.users_by_name.get(actor.user)
        return user.role if user is not None else "viewer"
    if actor.surface in ("slack", "discord") and ctx.allow_unknown_users:
        return "responder"
    return "viewer"


def may_run(command: Command, actor: Actor, ctx: CommandContext) -> bool:
    return role_allows(role_of(actor, ctx), needed_role(command))


def denied_reply(command: Command, actor: Actor, ctx: CommandContext) -> Reply:
    """Why `actor` may not run `command`, and what would let them."""
    needed = needed_role(command)
    if actor.user is not None:
        return error_reply(
            f"{command.name} needs the {needed} role; {actor.user} is a "
            f"{role_of(actor, ctx)} (an admin can set `role: {needed}` on {actor.user} "
            "under `users:` in the firebell config)."
        )
    if actor.surface == "cli":
        known = ", ".join(sorted(ctx.config.users_by_name)) or "none defined under users:"
        return error_reply(
            f"{command.name} changes incidents, so it runs as a firebell user: pass "
            f"--as NAME (known: {known}); without --as, the user named like your OS login "
            "is used."
        )
    id_field = "slack_id" if actor.surface == "slack" else "discord_id"
    if role_of(actor, ctx) != "viewer":
        # allow_unknown_users makes them responders; paging by hand needs more.
        return error_reply(
            f"{command.name} needs the {needed} role, and you are not linked to a firebell "
            f"user ({actor.surface} id {actor.raw_id}). Add `{id_field}: {actor.raw_id}` to "
            f"your entry under `users:` in the firebell config, with `role: {needed}`."
        )
    return error_reply(
        f"you are not linked to a firebell user ({actor.surface} id {actor.raw_id}), "
        f"so you may only read ({', '.join(READ_ONLY)}), not {command.name}. "
        f"To change incidents, add `{id_field}: {actor.raw_id}` to your entry under `users:` "
        f"in the firebell config (or set {actor.surface}.allow_unknown_users: true)."
    )
