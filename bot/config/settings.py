"""Settings: the whole config file as one model (routing sections come from PolicyConfig)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from bot.config.chat import DiscordConfig, SlackConfig
from bot.config.connections import Connection, ConnectionName, connection_address_problems
from bot.config.database import Database, connect_timeout_twice
from bot.config.fields import (
    HttpURL,
    NonBlank,
    NonNegativeDuration,
    PositiveDuration,
    Section,
    ServiceMap,
    none_is,
)
from bot.config.identities import (
    Principal,
    TokenEntry,
    check_token_entries,
    intake_tokens,
    token_principals,
)
from bot.config.secrets import database_password, redact_database_url, redact_secrets, secrets_in
from bot.config.sources import Sources
from bot.config.targets import native_target_problems
from bot.config.web import Web
from integrations.connections import HttpConnection
from integrations.sources.base import SourceOptions
from playbooks.catalog import Catalog, load_catalog
from routing.muting.tree import ROOT_DEFAULTS, RouteNode, compile_tree
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
    # A flapping alert's reopens are not paged until it stops flipping for this long.
    flap_quiet: PositiveDuration = timedelta(minutes=30)
    # The root route's group_wait and group_by unless it sets its own (routes inherit).
    group_wait: NonNegativeDuration = timedelta(0)
    # An alert of another source joins an open incident of its service only within this
    # long after the incident last gained an alert; 0s: never across sources.
    correlate_within: NonNegativeDuration = timedelta(minutes=15)


class Intake(Section):
    """Bounds of the intake writer's queue, and how long a request waits for its commit."""

    queue_size: int = Field(default=1000, ge=1)  # webhooks waiting; then 503 + Retry-After
    syslog_queue_size: int = Field(default=1000, ge=1)  # syslog lines waiting; then dropped
    # Syslog lines per write batch, written only while no webhook waits: larger stores a
    # flood faster, smaller keeps webhooks from waiting behind it.
    syslog_batch: int = Field(default=32, ge=1, le=512)
    request_timeout: PositiveDuration = timedelta(seconds=5)  # then 503 + Retry-After
    # /readyz fails when the writer, the paging worker or the syslog listener has not
    # stamped its heartbeat for this long.
    stall_after: PositiveDuration = timedelta(seconds=10)

    @field_validator("stall_after")
    @classmethod
    def _beats_fit(cls, value: timedelta) -> timedelta:
        # An idle paging worker polls every second, so it beats about that often.
        if value < timedelta(seconds=2):
            raise ValueError("must be at least 2s (an idle loop beats about once a second)")
        return value


class Settings(PolicyConfig):
    """Everything firebell reads from its config file (routing sections: PolicyConfig)."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    database_url: Annotated[str, AfterValidator(_database_url)] = DEFAULT_DATABASE_URL
    database: Annotated[Database, none_is(dict)] = Field(default_factory=Database)
    # Bearer tokens: plain strings (machines) or {token, user} / {token, name, role}.
    api_tokens: Annotated[list[TokenEntry], none_is(list)] = []
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    sources: Annotated[Sources, none_is(dict)] = Field(default_factory=Sources)
    services: ServiceMap = {}  # any source-side name (job, project, server) -> service
    grouping: Annotated[Grouping, none_is(dict)] = Field(default_factory=Grouping)
    intake: Annotated[Intake, none_is(dict)] = Field(default_factory=Intake)
    playbooks: NonBlank | None = None  # a folder of playbook YAML files
    # name -> where a playbook step reads (URL, paths, credentials); by `type:`.
    connections: Annotated[dict[ConnectionName, Connection], none_is(dict)] = {}
    slack: SlackConfig | None = None
    discord: DiscordConfig | None = None
    public_url: HttpURL | None = None  # base for links in messages
    web: Annotated[Web, none_is(dict)] = Field(default_factory=Web)  # the page (bot.web)
    # The config file's folder: a relative `playbooks:` is read from there.
    _config_dir: Path | None = PrivateAttr(default=None)

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        # Links are built as f"{public_url}/incidents/42".
        return value.rstrip("/") if value else value

    @cached_property
    def _source_options(self) -> dict[str, SourceOptions]:
        # A source's own map wins over the global alias map; only Nginx lines carry
        # zoneless times. Built once: the syslog listener asks for every line.
        sentry, nginx = self.sources.sentry, self.sources.nginx
        return {
            "sentry": SourceOptions(services={**self.services, **sentry.services}),
            "nginx": SourceOptions(
                services={**self.services, **nginx.services}, time_zone=nginx.time_zone
            ),
            "": SourceOptions(services=dict(self.services)),
        }

    def source_options(self, source: str) -> SourceOptions:
        """How `source`'s payloads are read (`sentry` and `sentry-legacy` share one map)."""
        family = "sentry" if source.startswith("sentry") else source
        return self._source_options.get(family, self._source_options[""])

    @cached_property
    def route_tree(self) -> RouteNode:
        """The compiled route tree; its root takes group_by and group_wait from `grouping`."""
        root = replace(
            ROOT_DEFAULTS,
            group_by=tuple(self.grouping.group_by),
            group_wait=self.grouping.group_wait,
        )
        return compile_tree(self.route, root)

    @model_validator(mode="after")
    def _connect_timeout_once(self) -> Settings:
        problem = connect_timeout_twice(self.database_url, self.database)
        if problem:
            raise ValueError(problem)
        return self

    @model_validator(mode="after")
    def _token_owners(self) -> Settings:
        problems = check_token_entries(self.api_tokens, self.users_by_name)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @model_validator(mode="after")
    def _native_targets(self) -> Settings:
        problems = native_target_problems(self.users, self.teams)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @model_validator(mode="after")
    def _connection_addresses(self) -> Settings:
        problems = connection_address_problems(self.connections)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def playbook_folder(self) -> Path | None:
        """The `playbooks:` folder; a relative one is read next to the config file."""
        if self.playbooks is None:
            return None
        folder = Path(self.playbooks).expanduser()
        if folder.is_absolute() or self._config_dir is None:
            return folder
        return self._config_dir / folder

    @cached_property
    def catalog(self) -> Catalog:
        """The playbooks of the folder, checked against the connections (raises
        playbooks.catalog.PlaybookErrors; load_config has checked it already)."""
        return self.load_playbooks()

    def load_playbooks(self) -> Catalog:
        """Read the playbooks folder now (the worker reloads it when a file changed)."""
        return load_catalog(
            self.playbook_folder(),
            self.connections,
            tuple(self.secret_values()),
            shown_as=self.playbooks,
            people=self,  # approvers name its users, teams and schedules
        )

    def api_principals(self) -> list[tuple[str, Principal]]:
        """(bearer token, who it stands for) for every api_tokens entry."""
        return token_principals(self.api_tokens, self.users_by_name)

    def intake_tokens(self) -> list[str]:
        """The api_tokens a webhook accepts (machines, and people who may write)."""
        return intake_tokens(self.api_tokens, self.users_by_name)

    def secret_values(self) -> list[str]:
        """Every secret in the settings, for scrubbing logs (longest first, no duplicates)."""
        found = secrets_in(self)
        for connection in self.connections.values():
            if isinstance(connection, HttpConnection):
                # A header's value as sent: basic auth's base64 is the password in disguise.
                for header in connection.auth_headers().values():
                    found += [header, header.partition(" ")[2]]
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
