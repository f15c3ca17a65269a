"""Settings: the whole config file as one model (routing sections come from PolicyConfig)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import unquote

from pydantic import AfterValidator, ConfigDict, Field, field_validator

from bot.config.chat import DiscordConfig, SlackConfig
from bot.config.fields import (
    HttpURL,
    NonBlank,
    NonNegativeDuration,
    Secret,
    Section,
    ServiceMap,
    none_is,
)
from bot.config.secrets import database_password, redact_database_url, redact_secrets, secrets_in
from bot.config.sources import Sources
from routing.paging.policy import PolicyConfig
from routing.storage.database import sqlalchemy_url

DEFAULT_DATABASE_URL = "sqlite:///./firebell.db"


def _label_names(value: list[str]) -> list[str]:
    if not value:
        raise ValueError("must name at least one label (e.g. [service, alertname])")
    for name in value:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f'invalid label name "{name}" (letters, digits and _)')
    duplicates = sorted({name for name in value if value.count(name) > 1})
    if duplicates:
        raise ValueError(f"lists {', '.join(duplicates)} more than once")
    return value


_SUPPORTED_DATABASES = ("sqlite", "sqlite+pysqlite", "postgresql", "postgres", "postgresql+psycopg")


def _database_url(value: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    text = value.strip()
    scheme, sep, _ = text.partition("://")
    if not sep or scheme not in _SUPPORTED_DATABASES:
        # Never echo the URL itself: it may carry a password.
        raise ValueError(
            f'unsupported database URL scheme "{scheme}" '
            "(expected sqlite:///path/to/file.db or postgresql://user:password@host:5432/db)"
        )
    try:
        make_url(sqlalchemy_url(text))
    except (ArgumentError, ValueError):
        raise ValueError(
            "the database URL cannot be parsed (check the port and the quoting)"
        ) from None
    return text


class Grouping(Section):
    group_by: Annotated[list[str], AfterValidator(_label_names)] = ["service", "alertname"]
    reopen_window: NonNegativeDuration = timedelta(minutes=30)  # 0s: never reopen
    flap_flips: int = Field(default=3, ge=1)
    group_wait: NonNegativeDuration = timedelta(0)


class Settings(PolicyConfig):
    """Everything firebell reads from its config file (routing sections: PolicyConfig)."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    database_url: Annotated[str, AfterValidator(_database_url)] = DEFAULT_DATABASE_URL
    api_tokens: Annotated[list[Secret], none_is(list)] = []
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    sources: Annotated[Sources, none_is(dict)] = Field(default_factory=Sources)
    services: ServiceMap = {}  # any source-side name (job, project, server) -> service
    grouping: Annotated[Grouping, none_is(dict)] = Field(default_factory=Grouping)
    playbooks: NonBlank | None = None  # a folder of playbook YAML files
    slack: SlackConfig | None = None
    discord: DiscordConfig | None = None
    public_url: HttpURL | None = None  # base for links in messages

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        # Links are built as f"{public_url}/incidents/42".
        return value.rstrip("/") if value else value

    def secret_values(self) -> list[str]:
        """Every secret in the settings, for scrubbing logs (longest first, no duplicates)."""
        found = secrets_in(self)
        password = database_password(self.database_url)
        if password:
            found += [password, unquote(password)]
        return sorted({value for value in found if value}, key=lambda v: (-len(v), v))

    def redacted_dump(self) -> dict[str, Any]:
        """The settings as plain data, safe to print or log: secrets are "***"."""
        dumped = self.model_dump(mode="json", by_alias=True)
        redact_secrets(self, dumped)
        dumped["database_url"] = redact_database_url(self.database_url)
        return dumped


def default_settings() -> Settings:
    """No config file: SQLite next to the process, no tokens (loopback only), one team."""
    return Settings()
