"""What every subcommand needs first: the config file it names (or the default), and
the instants it is given on the command line."""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime
from pathlib import Path

from bot.config import Settings, default_settings, load_config, resolve_config_path

CONFIG_HELP = "config file (default: $FIREBELL_CONFIG, else ./firebell.yaml, else built-in)"


class UsageError(Exception):
    """A bad file or value on the command line: one line on stderr, exit 2."""


def read_input(name: str) -> bytes:
    """A file named on the command line; UsageError (naming it) when it cannot be read."""
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        raise UsageError(f"{name}: {(exc.strerror or str(exc)).lower()}") from None


def load_settings(config: str | None) -> Settings:
    path = resolve_config_path(config, os.environ, Path.cwd())
    if path is None:
        return default_settings()
    return load_config(path, os.environ)


def instant_arg(text: str) -> datetime:
    """`type=` for --at: ISO 8601, a time without a zone taken as UTC; a bad instant is an
    argparse error (one line, exit 2)."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid instant {text!r} (expected ISO 8601, e.g. 2026-11-24T10:00:00Z)"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
