"""What `firebell check-config` prints: OK with a summary, or every problem by its path."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bot.config.errors import ConfigError
from bot.config.load import load_config
from bot.config.secrets import redact_database_url
from bot.config.settings import Settings, default_settings


def _count_routes(route: Any) -> int:
    if route is None:
        return 0
    children = route.get("routes") if isinstance(route, Mapping) else getattr(route, "routes", None)
    return 1 + sum(_count_routes(child) for child in children or [])


def _auth(own: list[str], api_tokens: Sequence[object], open_access: bool) -> str:
    if own:
        return ", ".join(own)
    if api_tokens:
        return "api_tokens"
    return "OPEN (no credentials)" if open_access else "no credentials: requests rejected"


def _source_lines(settings: Settings) -> list[str]:
    src = settings.sources
    am, sentry, nginx = src.alertmanager, src.sentry, src.nginx
    open_access = not (
        settings.api_tokens
        or am.bearer_token
        or am.basic_auth
        or sentry.client_secret
        or sentry.legacy_token
        or nginx.token
        or src.generic.token
    )
    am_own = ["bearer token"] * bool(am.bearer_token) + ["basic auth"] * bool(am.basic_auth)
    sentry_own = ["signed (client_secret)"] * bool(sentry.client_secret)
    sentry_own += ["legacy URL token"] * bool(sentry.legacy_token)
    # Sentry signs with its own secret; api_tokens do not apply to it.
    sentry_auth = ", ".join(sentry_own) or (
        "OPEN (no credentials)" if open_access else "no client_secret: requests rejected"
    )
    nginx_auth = _auth(["token"] * bool(nginx.token), settings.api_tokens, open_access)
    if nginx.syslog is not None:
        nginx_auth += f"; syslog on {nginx.syslog.listen} (UDP and TCP)"
    generic_auth = _auth(["token"] * bool(src.generic.token), settings.api_tokens, open_access)
    lines = [
        f"  alertmanager: {_auth(am_own, settings.api_tokens, open_access)}",
        f"  sentry: {sentry_auth}",
        f"  nginx: {nginx_auth}",
        f"  generic: {generic_auth}",
    ]
    if open_access:
        lines.append("  (no credentials configured: the server only binds to loopback)")
    return lines


def _token_line(settings: Settings) -> str:
    """How many api tokens, and who they stand for (names and roles, never the tokens)."""
    principals = [principal for _token, principal in settings.api_principals()]
    if not principals:
        return "api tokens: 0"
    who = ", ".join(f"{p.name} ({p.role})" for p in principals)
    return f"api tokens: {len(principals)}: {who}"


def _playbook_line(settings: Settings) -> str:
    if settings.playbooks is None:
        return "playbooks: none"
    loaded = settings.catalog.playbooks  # load_config has checked that they load
    names = ", ".join(f"{p.id} ({p.spec.run})" for p in loaded.values())
    return f"playbooks: {settings.playbooks}: {len(loaded)}" + (f": {names}" if names else "")


def _connection_line(settings: Settings) -> str:
    """Each connection's name and type (never its URL's credentials or its keys)."""
    shown = ", ".join(f"{name} ({c.type})" for name, c in settings.connections.items())
    return f"connections: {len(settings.connections)}" + (f": {shown}" if shown else "")


def format_check_report(origin: str, outcome: Settings | ConfigError) -> str:
    """What `firebell check-config` prints: OK and a summary, or one `path: message` per line."""
    if isinstance(outcome, ConfigError):
        count = len(outcome.errors)
        header = f"INVALID: {origin} ({count} error{'s' * (count != 1)})"
        return "\n".join([header, *outcome.error_lines()])
    s = outcome
    chat = [name for name in ("slack", "discord") if getattr(s, name) is not None]
    return "\n".join(
        [
            f"OK: {origin}",
            f"database: {redact_database_url(s.database_url)}",
            "sources:",
            *_source_lines(s),
            _token_line(s),
            f"service aliases: {len(s.services)}",
            f"users: {len(s.users)}, teams: {len(s.teams)}, schedules: {len(s.schedules)}, "
            f"escalation policies: {len(s.escalation_policies)}, "
            f"routes: {_count_routes(s.route)}, silences: {len(s.silences)}",
            f"chat: {', '.join(chat) or 'none'}",
            _playbook_line(s),
            _connection_line(s),
        ]
    )


def check_config_file(path: Path | None, env: Mapping[str, str]) -> tuple[bool, str]:
    """Validate a config file (None: the built-in default); returns (ok, report)."""
    origin = str(path) if path is not None else "built-in default (no config file)"
    try:
        settings = load_config(path, env) if path is not None else default_settings()
    except ConfigError as exc:
        return False, format_check_report(origin, exc)
    return True, format_check_report(origin, settings)
