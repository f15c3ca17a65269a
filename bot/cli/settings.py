"""What every subcommand needs first: the config file it names (or the default), and
the instants it is given on the command line."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from bot.config import Settings, default_settings, load_config, resolve_config_path

CONFIG_HELP = "config file (default: $FIREBELL_CONFIG, else ./firebell.yaml, else built-in)"


def load_settings(config: str | None) -> Settings:
    path = resolve_config_path(config, os.environ, Path.cwd())
    if path is None:
        return default_settings()
    return load_config(path, os.environ)


def parse_instant(text: str) -> datetime:
    """ISO 8601; a time without a zone is taken as UTC."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)
