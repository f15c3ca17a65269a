"""Who runs a command (Actor), what it runs with (CommandContext), and what it answers (Reply)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Engine

from bot.commands.specs import DEFAULT_PREFIX
from playbooks.service import PlaybookService
from routing.intake.alert import Alert
from routing.paging.policy import PolicyConfig

Visibility = Literal["ephemeral", "public"]
Surface = Literal["slack", "discord", "cli"]  # the REST API has its own (bot.http.identity)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who runs a command: the firebell user they map to (None if unknown) and where from."""

    user: str | None
    surface: Surface
    raw_id: str = ""  # the chat user id (Slack U…, Discord snowflake), empty for the cli
    handle: str = ""  # the chat display name, for the timeline when the user is unknown

    @property
    def name(self) -> str:
        """The name written to the timeline."""
        if self.user:
            return self.user
        if self.surface == "cli":
            return self.surface
        return f"{self.surface}:{self.handle or self.raw_id}"


def slack_actor(config: PolicyConfig, user_id: str, handle: str = "") -> Actor:
    user = config.user_by_slack_id(user_id)
    return Actor(user.name if user else None, "slack", user_id, handle)


def discord_actor(config: PolicyConfig, user_id: str, handle: str = "") -> Actor:
    user = config.user_by_discord_id(user_id)
    return Actor(user.name if user else None, "discord", user_id, handle)


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    visibility: Visibility = "ephemeral"
    incident_id: int | None = None
    changed: bool = False
    ok: bool = True
    action: str | None = None  # what changed: ack, resolve, note, page, silence, unsilence
    incident: Mapping[str, Any] | None = None  # the incident shown/changed, for rich rendering
    # What a read shows, as plain data in the REST API's shape (`--json`, CLI tables).
    data: Any = None
    # Playbooks to offer as Run / Dry-run buttons (the "Run playbook" button's answer).
    playbooks: tuple[str, ...] = ()


def error_reply(text: str) -> Reply:
    return Reply(text, "ephemeral", ok=False)


# Called after a committed change: (incident id, action), e.g. to edit chat messages.
ChangeHook = Callable[[int, str], None]
# Submits a manual alert through the intake; returns the incident id it landed in.
AlertSubmitter = Callable[[Alert, bytes], Awaitable[int | None]]


@dataclass
class CommandContext:
    engine: Engine
    config: PolicyConfig
    clock: Callable[[], datetime]
    submit_alert: AlertSubmitter | None = None
    allow_unknown_users: bool = False
    changed: Sequence[ChangeHook] = ()
    # Starts and dry-runs playbooks; None when none are configured.
    playbook_service: PlaybookService | None = None
    prefix: str = DEFAULT_PREFIX
