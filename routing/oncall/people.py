"""Users and teams from the config, and the channel targets they are reached through."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from routing.basics.field import TimeZone, refuse_unused_key
from routing.basics.redact import CREDENTIAL_URL, redact_url

ChannelKind = Literal["slack", "discord", "apprise"]
# What a person may do: read; also ack, resolve, silence, note, run playbooks; also page
# by hand (wakes people outside the rotation). Ordered: each role has the ones before it.
Role = Literal["viewer", "responder", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "responder", "admin")

_SLACK = re.compile(r"slack:(#[a-z0-9][a-z0-9._-]{0,79}|[CGDU][A-Z0-9]{2,})")
_DISCORD = re.compile(r"discord:\d{1,21}")  # a channel snowflake id
_APPRISE = re.compile(r"[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def channel_kind(target: str) -> ChannelKind:
    """Which notifier delivers to a channel target (validated form assumed). `slack://`
    and `discord://` are apprise URLs (webhooks with their token), not bot channels."""
    if "://" in target:
        return "apprise"
    if target.startswith("slack:"):
        return "slack"
    if target.startswith("discord:"):
        return "discord"
    return "apprise"


def _channel(target: str) -> str:
    """ "slack:#name" / "slack:C123", "discord:<channel id>", or any apprise URL."""
    target = target.strip()
    kind = channel_kind(target)
    if kind == "slack":
        if not _SLACK.fullmatch(target):
            raise ValueError(
                f"invalid Slack target {target!r} "
                "(expected 'slack:#channel-name' or 'slack:C0123ABC')"
            )
    elif kind == "discord":
        if not _DISCORD.fullmatch(target):
            raise ValueError(
                f"invalid Discord target {target!r} (expected 'discord:<numeric channel id>')"
            )
    elif not _APPRISE.fullmatch(target):
        raise ValueError(
            f"invalid channel {redact_url(target)!r} "
            "(expected 'slack:#name', 'discord:<id>' or an apprise URL like 'mailto://...')"
        )
    return target


def _contact(url: str) -> str:
    url = url.strip()
    if not _APPRISE.fullmatch(url):
        raise ValueError(
            f"invalid contact {redact_url(url)!r} "
            "(expected an apprise URL like 'ntfy://host/topic')"
        )
    return url


def _name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError(f"invalid name {value!r} (letters, digits, '.', '_' or '-')")
    return value


Name = Annotated[str, AfterValidator(_name)]
ChannelTarget = Annotated[str, AfterValidator(_channel), CREDENTIAL_URL]
ContactURL = Annotated[str, AfterValidator(_contact), CREDENTIAL_URL]


def role_allows(role: Role, needed: Role) -> bool:
    return ROLES.index(role) >= ROLES.index(needed)


class User(BaseModel):
    # Ids are often written unquoted in YAML (discord_id: 1001); keep them as text.
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)

    name: Name
    time_zone: TimeZone = ZoneInfo("UTC")
    slack_id: str | None = Field(default=None, pattern=r"^[UW][A-Z0-9]{2,}$")
    discord_id: str | None = Field(default=None, pattern=r"^\d{1,21}$")
    contacts: list[ContactURL] = []  # apprise URLs; each one is notified when the user is paged
    role: Role = "responder"  # in chat, the CLI (--as) and the API (their api_tokens entry)

    @model_validator(mode="before")
    @classmethod
    def _no_email_key(cls, data: Any) -> Any:
        return refuse_unused_key(
            data,
            "email",
            "firebell does not read it; to page someone by email, add an "
            'apprise mailto:// URL to their contacts (contacts: ["mailto://..."])',
        )


class Team(BaseModel):
    """A team; members must be defined users (checked by PolicyConfig)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    members: list[str] = []
    channels: list[ChannelTarget] = []
