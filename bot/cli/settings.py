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


def os_reason(exc: OSError) -> str:
    """'no such file or directory', 'permission denied', ... for one-line messages."""
    return (exc.strerror or str(exc)).lower()


def read_input(name: str) -> bytes:
    """A file named on the command line; UsageError (naming it) when it cannot be read."""
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        raise UsageError(f"{name}: {os_reason(exc)}") from None


def load_settings(config: str | None) -> Settings:
    path = resolve_config_path(config, os.environ, Path.cwd())
    if path is None:
        return default_settings()
    try:
        path.open("rb").close()
    except OSError as exc:
        raise UsageError(f"config {path}: {os_reason(exc)}") from None
    return load_config(path, os.environ)


def parse_instant(text: str) -> datetime:
    """ISO 8601; a time without a zone is taken as UTC."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def instant_arg(text: str) -> datetime:
    """`type=` for --at: a bad instant is an argparse error (one line, exit 2)."""
    try:
        return parse_instant(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid instant {text!r} (expected ISO 8601, e.g. 2026-11-24T10:00:00Z)"
        ) from None
