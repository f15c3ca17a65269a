"""The config file: YAML with ${ENV} interpolation, validated into Settings with path-named errors.

Pipeline: YAML text -> nodes (line numbers, duplicate keys) -> data -> ${VAR} interpolation
-> pydantic models (extra keys forbidden everywhere) -> Settings, or one ConfigError
listing every problem as (path, message), e.g. `sources.nginx.threshold.window: ...`.

This package's face re-exports what callers need; each step lives in its own module:
  yaml_nodes  YAML text -> data, with the line of every key and duplicate-key problems
  env         ${VAR} interpolation
  fields      field types shared by sections (Secret, durations, URLs) and Section
  sources     the `sources:` section
  chat        the `slack:` and `discord:` sections
  identities  `api_tokens`: the person or machine each token stands for (Principal)
  settings    Settings, the whole file
  secrets     finding, scrubbing and masking secrets
  explain     pydantic errors -> (path, message)
  errors      ConfigError (and ConfigUnreadable) and path rendering
  load        parse_config / load_config / resolve_config_path
  report      the `check-config` report
"""

from __future__ import annotations

from bot.config.chat import DiscordConfig, SlackConfig
from bot.config.env import interpolate
from bot.config.errors import ConfigError, ConfigUnreadable, Loc, render_path
from bot.config.identities import OPEN_ACCESS, ApiToken, Principal
from bot.config.load import (
    CONFIG_ENV,
    DEFAULT_CONFIG_NAME,
    load_config,
    parse_config,
    resolve_config_path,
)
from bot.config.report import check_config_file, format_check_report
from bot.config.secrets import REDACTED, database_url_for_sqlalchemy, redact_database_url
from bot.config.settings import DEFAULT_DATABASE_URL, Grouping, Settings, default_settings
from bot.config.sources import Sources

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG_NAME",
    "DEFAULT_DATABASE_URL",
    "OPEN_ACCESS",
    "REDACTED",
    "ApiToken",
    "ConfigError",
    "ConfigUnreadable",
    "DiscordConfig",
    "Grouping",
    "Loc",
    "Principal",
    "Settings",
    "SlackConfig",
    "Sources",
    "check_config_file",
    "database_url_for_sqlalchemy",
    "default_settings",
    "format_check_report",
    "interpolate",
    "load_config",
    "parse_config",
    "redact_database_url",
    "render_path",
    "resolve_config_path",
]
