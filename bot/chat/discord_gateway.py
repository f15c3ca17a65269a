"""The Discord gateway bot (`firebell discord`): the /incident command group and the buttons.

The buttons are DynamicItems whose custom_id carries the incident id, registered with
`add_dynamic_items`, so buttons on messages posted before a restart (or by the outbox
over REST) keep working. Commands and buttons run through the shared command layer.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import discord
from discord import app_commands

from bot.chat.approval_render import (
    DISCORD_APPROVAL_TEMPLATE,
    Click,
    approval_custom_id,
    parse_discord_click,
)
from bot.chat.context import command_context
from bot.chat.sync import Background, ChatSync, answered_refs
from bot.commands import (
    CommandError,
    Page,
    Reply,
    RunPlaybook,
    button_command,
    command_from_options,
    discord_actor,
    execute,
)
from bot.runtime.state import Runtime
from integrations.notifiers import Notification
from integrations.notifiers.button import (
    BUTTONS,
    DISCORD_PLAYBOOK_TEMPLATE,
    MAX_DISCORD_CHOICES,
    buttons_for,
    discord_custom_id,
    discord_playbook_custom_id,
)
from integrations.notifiers.discord_embed import (
    DISCORD_CONTENT_LIMIT,
    render_discord_content,
    render_discord_embed,
)
from integrations.notifiers.message import clip

log = logging.getLogger("firebell.discord")

_BUTTON_STYLES = {b.action.value: (b.label, discord.ButtonStyle(b.discord_style)) for b in BUTTONS}


class IncidentButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"incident:(?P<action>ack|resolve|silence1h|run):(?P<id>\d{1,18})",
):
    """An incident button; everything it needs is in its custom_id."""

    def __init__(self, action: str, incident_id: int) -> None:
        label, style = _BUTTON_STYLES[action]
        super().__init__(
            discord.ui.Button(
                label=label, style=style, custom_id=f"incident:{action}:{incident_id}"
            )
        )
        self.action = action
        self.incident_id = incident_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> IncidentButton:
        return cls(match["action"], int(match["id"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        bot = interaction.client
        assert isinstance(bot, FirebellBot)
        await bot.press(interaction, self.action, self.incident_id)


class PlaybookButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=DISCORD_PLAYBOOK_TEMPLATE
):
    """Run or Dry-run one playbook for an incident (the "Run playbook" button's choices)."""

    def __init__(self, mode: str, playbook: str, incident_id: int) -> None:
        run = mode == "run"
        super().__init__(
            discord.ui.Button(
                label=f"{'Run' if run else 'Dry-run'} {playbook}"[:80],
                style=discord.ButtonStyle.primary if run else discord.ButtonStyle.secondary,
                custom_id=discord_playbook_custom_id(
                    "run" if run else "dry", playbook, incident_id
                ),
            )
        )
        self.mode, self.playbook, self.incident_id = mode, playbook, incident_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> PlaybookButton:
        return cls(match["mode"], match["name"], int(match["id"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        bot = interaction.client
        assert isinstance(bot, FirebellBot)
        await bot.press_playbook(interaction, self.mode, self.playbook, self.incident_id)


class ApprovalButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=DISCORD_APPROVAL_TEMPLATE
):
    """Approve / Reject / Request again on an approval request (bot.chat.approval_chat
    posts it over REST; the custom_id carries run, step and request hash)."""

    def __init__(self, click: Click) -> None:
        super().__init__(discord.ui.Button(label=click.action, custom_id=approval_custom_id(click)))
        self.click = click

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> ApprovalButton:
        click = parse_discord_click(match.group(0))
        assert click is not None  # the template matched
        return cls(click)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        bot = interaction.client
        assert isinstance(bot, FirebellBot)
        bot.background.current()
        user = bot.actor(interaction).user
        _ok, text = await bot.rt.extras["chat"].approvals.click(self.click, user, "discord")
        await interaction.response.send_message(
            clip(text, DISCORD_CONTENT_LIMIT),
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )


def playbook_view(incident_id: int, playbooks: tuple[str, ...]) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for row, name in enumerate(playbooks[:MAX_DISCORD_CHOICES]):
        for mode in ("run", "dry"):
            item = PlaybookButton(mode, name, incident_id)
            item.item.row = row
            view.add_item(item)
    return view


def incident_view(notification: Notification) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for button in buttons_for(notification.status):
        item = IncidentButton(button.action.value, notification.incident_id)
        assert item.item.custom_id == discord_custom_id(button.action, notification.incident_id)
        view.add_item(item)
    return view


class FirebellBot(discord.Client):
    def __init__(self, rt: Runtime, sync: ChatSync, background: Background) -> None:
        cfg = rt.settings.discord
        assert cfg is not None, "the Discord bot needs the discord: section"
        # The configured application owns the /incident commands registered at setup.
        super().__init__(intents=discord.Intents.default(), application_id=int(cfg.application_id))
        self.rt = rt
        self.sync = sync
        self.background = background
        self.tree = app_commands.CommandTree(self)
        self.tree.add_command(incident_group(self))
        self.guild = discord.Object(int(cfg.guild_id)) if cfg.guild_id else None

    async def setup_hook(self) -> None:
        self.add_dynamic_items(IncidentButton, PlaybookButton, ApprovalButton)
        # A guild sync is instant; a global one can take an hour to show everywhere.
        if self.guild is not None:
            self.tree.copy_global_to(guild=self.guild)
        await self.tree.sync(guild=self.guild)

    def actor(self, interaction: discord.Interaction[Any]) -> Any:
        return discord_actor(self.rt.settings, str(interaction.user.id), interaction.user.name)

    async def run_command(
        self, interaction: discord.Interaction[Any], name: str, options: dict[str, Any]
    ) -> None:
        self.background.current()
        command = command_from_options(name, options)
        if isinstance(command, CommandError):
            await interaction.response.send_message(
                command.message, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
            )
            return
        ctx = command_context(self.rt, "discord")
        if isinstance(command, Page):
            # Paging waits for the intake to commit: answer "thinking…" within 3 s first.
            await interaction.response.defer(thinking=True)
            reply = await execute(command, self.actor(interaction), ctx)
            await interaction.followup.send(
                clip(reply.text, DISCORD_CONTENT_LIMIT),
                allowed_mentions=discord.AllowedMentions.none(),
            )
            return
        reply = await execute(command, self.actor(interaction), ctx)
        await self._send(interaction, reply)

    async def _send(self, interaction: discord.Interaction[Any], reply: Reply) -> None:
        kwargs: dict[str, Any] = {}
        notification = None
        if reply.ok and reply.incident_id is not None:
            notification = await self.sync.render(reply.incident_id)
        if notification is not None:
            kwargs["embed"] = discord.Embed.from_dict(render_discord_embed(notification))
            if reply.action is None:  # a shown incident carries its buttons
                kwargs["view"] = incident_view(notification)
        await interaction.response.send_message(
            clip(reply.text, DISCORD_CONTENT_LIMIT),
            ephemeral=reply.visibility == "ephemeral",
            allowed_mentions=discord.AllowedMentions.none(),
            **kwargs,
        )

    async def press(
        self, interaction: discord.Interaction[Any], action: str, incident_id: int
    ) -> None:
        """A button: change the incident, then edit the pressed message in place."""
        self.background.current()
        message = interaction.message
        ref = f"{interaction.channel_id}:{message.id}" if message is not None else ""
        token = answered_refs.set(frozenset({f"discord:{ref}"}))
        try:
            reply = await execute(
                button_command(action, incident_id, "discord"),
                self.actor(interaction),
                command_context(self.rt, "discord"),
            )
        finally:
            answered_refs.reset(token)
        if reply.playbooks:  # "Run playbook": the choices, for the presser only
            await interaction.response.send_message(
                clip(reply.text, DISCORD_CONTENT_LIMIT),
                ephemeral=True,
                view=playbook_view(incident_id, reply.playbooks),
                allowed_mentions=discord.AllowedMentions.none(),
            )
            return
        notification = await self.sync.render(incident_id, "discord", ref) if reply.ok else None
        if notification is None:
            await interaction.response.send_message(
                clip(reply.text, DISCORD_CONTENT_LIMIT),
                ephemeral=True,
                allowed_mentions=discord.AllowedMentions.none(),
            )
            return
        await interaction.response.edit_message(
            content=render_discord_content(notification),
            embed=discord.Embed.from_dict(render_discord_embed(notification)),
            view=incident_view(notification),
        )

    async def press_playbook(
        self, interaction: discord.Interaction[Any], mode: str, playbook: str, incident_id: int
    ) -> None:
        """Run (replaces the chooser) or Dry-run (a new ephemeral answer) as the presser."""
        self.background.current()
        command = RunPlaybook(incident_id, playbook, dry_run=mode == "dry")
        reply = await execute(command, self.actor(interaction), command_context(self.rt, "discord"))
        text = clip(reply.text, DISCORD_CONTENT_LIMIT)
        if reply.ok and not command.dry_run:
            await interaction.response.edit_message(content=text, view=None)
            return
        await interaction.response.send_message(
            text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )


def incident_group(bot: FirebellBot) -> app_commands.Group:
    """/incident <subcommand>: the same words as Slack and the CLI."""
    group = app_commands.Group(name="incident", description="Work with firebell incidents")

    @group.command(name="list", description="List incidents (open by default)")
    @app_commands.describe(scope="open (default), all, or a status", service="only this service")
    @app_commands.choices(
        scope=[
            app_commands.Choice(name=s, value=s)
            for s in ("open", "all", "triggered", "acknowledged", "resolved")
        ]
    )
    async def list_(
        interaction: discord.Interaction, scope: str | None = None, service: str | None = None
    ) -> None:
        await bot.run_command(interaction, "list", {"scope": scope, "service": service})

    @group.command(name="show", description="Show an incident with its alerts and timeline")
    @app_commands.describe(id="incident id")
    async def show(interaction: discord.Interaction, id: int) -> None:
        await bot.run_command(interaction, "show", {"id": id})

    @group.command(name="ack", description="Acknowledge an incident (stops its escalation)")
    @app_commands.describe(id="incident id")
    async def ack(interaction: discord.Interaction, id: int) -> None:
        await bot.run_command(interaction, "ack", {"id": id})

    @group.command(name="resolve", description="Resolve an incident")
    @app_commands.describe(id="incident id", note="what fixed it")
    async def resolve(interaction: discord.Interaction, id: int, note: str | None = None) -> None:
        await bot.run_command(interaction, "resolve", {"id": id, "note": note})

    @group.command(name="note", description="Add a note to an incident's timeline")
    @app_commands.describe(id="incident id", text="the note")
    async def note(interaction: discord.Interaction, id: int, text: str) -> None:
        await bot.run_command(interaction, "note", {"id": id, "text": text})

    @group.command(name="oncall", description="Who is on call now and next")
    @app_commands.describe(schedule="one schedule (default: all)")
    async def oncall(interaction: discord.Interaction, schedule: str | None = None) -> None:
        await bot.run_command(interaction, "oncall", {"schedule": schedule})

    @group.command(name="page", description="Open an incident by hand and page someone now")
    @app_commands.describe(target="user or team name", text="what is wrong")
    async def page(interaction: discord.Interaction, target: str, text: str) -> None:
        await bot.run_command(interaction, "page", {"target": target, "text": text})

    @group.command(name="silence", description="Silence matching alerts for a while")
    @app_commands.describe(
        matchers='e.g. service=api,alertname=~"High.*" (or an incident id)',
        duration="e.g. 30m, 2h, 1d",
        comment="why",
    )
    async def silence(
        interaction: discord.Interaction, matchers: str, duration: str, comment: str | None = None
    ) -> None:
        options = {"matchers": matchers, "duration": duration, "comment": comment}
        await bot.run_command(interaction, "silence", options)

    @group.command(name="silences", description="List active and pending silences")
    async def silences(interaction: discord.Interaction) -> None:
        await bot.run_command(interaction, "silences", {})

    @group.command(name="unsilence", description="End a silence now")
    @app_commands.describe(id="silence id (see /incident silences)")
    async def unsilence(interaction: discord.Interaction, id: str) -> None:
        await bot.run_command(interaction, "unsilence", {"id": id})

    @group.command(name="run", description="Run a playbook for an incident")
    @app_commands.describe(
        id="incident id",
        playbook="playbook name",
        params="name=value pairs, e.g. window=1h",
        dry_run="show what it would send, and send nothing",
    )
    async def run(
        interaction: discord.Interaction,
        id: int,
        playbook: str,
        params: str | None = None,
        dry_run: bool = False,
    ) -> None:
        options = {"id": id, "playbook": playbook, "params": params, "dry_run": dry_run}
        await bot.run_command(interaction, "run", options)

    @group.command(name="help", description="The incident commands")
    async def help_(interaction: discord.Interaction) -> None:
        await bot.run_command(interaction, "help", {})

    return group


def use_api_url(api_url: str) -> None:
    """Point discord.py's REST calls at `api_url` (a proxy, or a loopback fake in tests)."""
    discord.http.Route.BASE = api_url.rstrip("/")


async def run_discord_bot(rt: Runtime) -> int:
    """`firebell discord`: the command role's runtime (database, intake, chat sync) plus the
    gateway bot."""
    cfg = rt.settings.discord
    assert cfg is not None
    use_api_url(cfg.api_url)
    chat = rt.extras["chat"]
    async with rt.lifecycle.running():
        bot = FirebellBot(rt, chat.sync, chat.background)
        async with bot:
            await bot.start(cfg.bot_token)
    return 0
