"""Users and teams from the config, and the channel targets they are reached through."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from routing.basics.field import Secret, TimeZone, refuse_unused_key
from routing.basics.redact import CREDENTIAL_URL, redact_url
from routing.oncall.bundle_rule import UserBundleSetting

ChannelKind = Literal["slack", "discord", "apprise"]
# What a person may do: read; also ack, resolve, silence, note, run playbooks; also page
# by hand (wakes people outside the rotation). Ordered: each role has the ones before it.
Role = Literal["viewer", "responder", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "responder", "admin")

_SLACK = re.compile(r"slack:(#[a-z0-9][a-z0-9._-]{0,79}|[CGDU][A-Z0-9]{2,})")
_DISCORD = re.compile(r"discord:\d{1,21}")  # a channel snowflake id
_APPRISE = re.compile(r"[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
_HTTP = re.compile(r"https?://[^\s/?#@]+(?:[/?#]\S*)?", re.IGNORECASE)
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


def _webhook_url(url: str) -> str:
    if not _HTTP.fullmatch(url):
        raise ValueError(
            f"invalid webhook URL {redact_url(url)!r} (expected 'https://host/path'; "
            "no user:password@, the signature authenticates the page)"
        )
    return url


def _name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError(f"invalid name {value!r} (letters, digits, '.', '_' or '-')")
    return value


Name = Annotated[str, AfterValidator(_name)]
ChannelTarget = Annotated[str, AfterValidator(_channel), CREDENTIAL_URL]


WEBHOOK_PREFIX = "webhook:"  # an outbox target "webhook:<url>" is a signed webhook contact


class Contact(BaseModel):
    """One way to reach a user: an apprise URL (a plain string in the config), or a
    signed webhook (`type: webhook`, an http(s) URL and the secret that signs each page).
    `every_page` opts this contact out of bundling during a pager storm."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: Annotated[str, CREDENTIAL_URL]
    type: Literal["apprise", "webhook"] = "apprise"
    secret: Secret | None = None
    every_page: bool = False

    @model_validator(mode="before")
    @classmethod
    def _plain_url(cls, data: Any) -> Any:
        # A plain string is an apprise URL, as contacts always were; its error keeps the
        # contact's own place (users[0].contacts[0]).
        if isinstance(data, str):
            return {"url": _contact(data)}
        if isinstance(data, dict) and isinstance(data.get("url"), str):
            return {**data, "url": data["url"].strip()}
        return data

    @model_validator(mode="after")
    def _check(self) -> Contact:
        if self.type == "webhook":
            _webhook_url(self.url)
            if self.secret is None:
                raise ValueError("secret: required for a webhook contact (it signs each page)")
        else:
            _contact(self.url)
            if self.secret is not None:
                raise ValueError(
                    "secret: only a webhook contact is signed (type: webhook); an apprise "
                    "URL carries its own credentials"
                )
        return self

    @property
    def address(self) -> str:
        """The outbox target: the apprise URL, or "webhook:<url>" for a signed webhook."""
        return WEBHOOK_PREFIX + self.url if self.type == "webhook" else self.url


def role_allows(role: Role, needed: Role) -> bool:
    return ROLES.index(role) >= ROLES.index(needed)


class User(BaseModel):
    # Ids are often written unquoted in YAML (discord_id: 1001); keep them as text.
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)

    name: Name
    time_zone: TimeZone = ZoneInfo("UTC")
    slack_id: str | None = Field(default=None, pattern=r"^[UW][A-Z0-9]{2,}$")
    discord_id: str | None = Field(default=None, pattern=r"^\d{1,21}$")
    contacts: list[Contact] = []  # each one is notified when the user is paged
    bundle: UserBundleSetting = None  # pager storms: overrides paging.bundle, or "off"
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
