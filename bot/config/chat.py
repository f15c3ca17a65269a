"""The `slack:` and `discord:` sections: bot credentials and how the bots behave."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

from bot.config.fields import HttpURL, Secret, Section


def _not_app_token(value: str) -> str:
    if value.startswith("xapp-"):
        raise ValueError("is an app-level token (xapp-...); it belongs in slack.app_token")
    return value


def _app_token(value: str) -> str:
    if value.startswith(("xoxb-", "xoxp-")):
        raise ValueError("is a bot/user token; app_token takes the app-level token (xapp-...)")
    return value


def _slash_command(value: str) -> str:
    if not re.fullmatch(r"/[a-z0-9_-]{1,31}", value.strip()):
        raise ValueError(f'invalid slash command "{value}" (expected e.g. /incident)')
    return value.strip()


class SlackConfig(Section):
    bot_token: Annotated[Secret, AfterValidator(_not_app_token)]
    signing_secret: Secret
    app_token: Annotated[Secret, AfterValidator(_app_token)] | None = None  # Socket Mode
    api_url: HttpURL = "https://slack.com/api/"
    command: Annotated[str, AfterValidator(_slash_command)] = "/incident"
    allow_unknown_users: bool = False


def _snowflake(value: Any) -> Any:
    # YAML reads an unquoted id as a number; Discord ids are text of digits.
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and not re.fullmatch(r"\d{1,21}", value.strip()):
        raise ValueError(f'invalid Discord id "{value}" (expected digits only)')
    return value.strip() if isinstance(value, str) else value


def _public_key(value: str) -> str:
    if not re.fullmatch(r"[0-9a-fA-F]{64}", value.strip()):
        raise ValueError(
            "must be 64 hex characters (the application's Public Key in the Discord "
            "developer portal)"
        )
    return value.strip().lower()


Snowflake = Annotated[str, BeforeValidator(_snowflake)]


class DiscordConfig(Section):
    bot_token: Secret
    application_id: Snowflake
    public_key: Annotated[str, AfterValidator(_public_key)]  # Ed25519, verifies interactions
    api_url: HttpURL = "https://discord.com/api/v10"
    guild_id: Snowflake | None = None  # register commands to one guild (instant updates)
    allow_unknown_users: bool = False
