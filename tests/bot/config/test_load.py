"""Config loading: the documented example files, defaults, path resolution, URLs, redaction."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import (
    ConfigError,
    Settings,
    check_config_file,
    database_url_for_sqlalchemy,
    default_settings,
    load_config,
    parse_config,
    redact_database_url,
    resolve_config_path,
)

# Exactly as documented (issue text): do not reformat.
SOURCES_EXAMPLE = """\
database_url: sqlite:///./firebell.db
api_tokens: ["${FIREBELL_API_TOKEN}"]
sources:
  alertmanager:
    bearer_token: "${AM_TOKEN}"
  sentry:
    client_secret: "${SENTRY_CLIENT_SECRET}"
    services: {backend: api}            # Sentry project slug -> service
  nginx:
    token: "${NGINX_TOKEN}"
    syslog: {listen: "127.0.0.1:5514"}  # UDP and TCP
    services: {"api.example.com": api}  # server name or upstream host -> service
    threshold: {count: 5, window: 1m}   # fire once 5 lines of one kind within 1 minute
    resolve_after: 10m                  # resolve after 10 quiet minutes
grouping:
  group_by: [service, alertname]
  reopen_window: 30m
"""
SOURCES_ENV = {
    "FIREBELL_API_TOKEN": "api-token-value",
    "AM_TOKEN": "am-token-value",
    "SENTRY_CLIENT_SECRET": "sentry-secret-value",
    "NGINX_TOKEN": "nginx-token-value",
}

CHAT_EXAMPLE = """\
slack:
  bot_token: "${SLACK_BOT_TOKEN}"
  signing_secret: "${SLACK_SIGNING_SECRET}"
  app_token: "${SLACK_APP_TOKEN}"        # optional: Socket Mode
  api_url: "https://slack.com/api/"       # optional: tests and proxies point it elsewhere
  command: /incident
discord:
  bot_token: "${DISCORD_BOT_TOKEN}"
  application_id: "123456789012345678"
  public_key: "${DISCORD_PUBLIC_KEY}"     # hex Ed25519 key for the HTTP endpoint
  api_url: "https://discord.com/api/v10"  # optional, as above
  guild_id: "876543210987654321"          # optional: register commands to one guild
"""
PUBLIC_KEY = "0123456789ABCDEF" * 4
CHAT_ENV = {
    "SLACK_BOT_TOKEN": "xoxb-bot-token",
    "SLACK_SIGNING_SECRET": "slack-signing-secret",
    "SLACK_APP_TOKEN": "xapp-app-token",
    "DISCORD_BOT_TOKEN": "discord-bot-token",
    "DISCORD_PUBLIC_KEY": PUBLIC_KEY,
}


def test_sources_example_loads() -> None:
    settings = parse_config(SOURCES_EXAMPLE, SOURCES_ENV)
    assert settings.database_url == "sqlite:///./firebell.db"
    assert settings.api_tokens == ["api-token-value"]
    src = settings.sources
    assert src.alertmanager.bearer_token == "am-token-value"
    assert src.alertmanager.basic_auth is None
    assert src.sentry.client_secret == "sentry-secret-value"
    assert src.sentry.services == {"backend": "api"}
    assert src.nginx.token == "nginx-token-value"
    assert src.nginx.syslog is not None
    assert src.nginx.syslog.listen == "127.0.0.1:5514"
    assert src.nginx.services == {"api.example.com": "api"}
    assert src.nginx.threshold.count == 5
    assert src.nginx.threshold.window == timedelta(minutes=1)
    assert src.nginx.resolve_after == timedelta(minutes=10)
    assert src.generic.token is None
    assert settings.grouping.group_by == ["service", "alertname"]
    assert settings.grouping.reopen_window == timedelta(minutes=30)


def test_chat_example_loads() -> None:
    settings = parse_config(CHAT_EXAMPLE, CHAT_ENV)
    assert settings.slack is not None and settings.discord is not None
    assert settings.slack.bot_token == "xoxb-bot-token"
    assert settings.slack.signing_secret == "slack-signing-secret"
    assert settings.slack.app_token == "xapp-app-token"
    assert settings.slack.api_url == "https://slack.com/api/"
    assert settings.slack.command == "/incident"
    assert settings.slack.allow_unknown_users is False
    assert settings.discord.bot_token == "discord-bot-token"
    assert settings.discord.application_id == "123456789012345678"
    assert settings.discord.public_key == PUBLIC_KEY.lower()
    assert settings.discord.api_url == "https://discord.com/api/v10"
    assert settings.discord.guild_id == "876543210987654321"


def test_both_examples_load_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "firebell.yaml"
    path.write_text(SOURCES_EXAMPLE + CHAT_EXAMPLE, encoding="utf-8")
    settings = load_config(path, {**SOURCES_ENV, **CHAT_ENV})
    assert settings.sources.nginx.threshold.count == 5
    assert settings.discord is not None and settings.discord.guild_id == "876543210987654321"


def test_unquoted_discord_ids_stay_exact_text() -> None:
    text = f"discord: {{bot_token: t, application_id: 123456789012345678, public_key: {'a' * 64}}}"
    settings = parse_config(text, {})
    assert settings.discord is not None
    assert settings.discord.application_id == "123456789012345678"


def test_default_settings_are_a_working_single_team_default() -> None:
    settings = default_settings()
    assert settings.database_url == "sqlite:///./firebell.db"
    assert settings.api_tokens == []
    assert settings.max_body_bytes == 1048576
    src = settings.sources
    assert not any(
        [src.alertmanager.bearer_token, src.alertmanager.basic_auth, src.sentry.client_secret,
         src.sentry.legacy_token, src.nginx.token, src.generic.token]
    )  # fmt: skip
    assert src.nginx.syslog is None
    assert src.nginx.threshold.count == 1
    assert src.nginx.resolve_after == timedelta(minutes=10)
    assert settings.grouping.group_by == ["service", "alertname"]
    assert settings.grouping.reopen_window == timedelta(minutes=30)
    assert settings.grouping.flap_flips == 3
    assert settings.grouping.group_wait == timedelta(0)
    assert settings.slack is None and settings.discord is None
    assert settings.playbooks is None and settings.public_url is None


@pytest.mark.parametrize("text", ["", "# only a comment\n", "sources:\ngrouping:\napi_tokens:\n"])
def test_empty_file_and_empty_sections_mean_the_defaults(text: str) -> None:
    assert parse_config(text, {}).model_dump() == default_settings().model_dump()


def test_public_url_loses_its_trailing_slash() -> None:
    settings = parse_config("public_url: https://firebell.example.com/\n", {})
    assert settings.public_url == "https://firebell.example.com"


def test_numbers_where_text_is_expected_are_kept_as_text() -> None:
    settings = parse_config("api_tokens: [12345678]\nservices: {42: api}\n", {})
    assert settings.api_tokens == ["12345678"]
    assert settings.services == {"42": "api"}


# ---------------------------------------------------------------- config path resolution


def test_cli_value_wins_over_env_and_cwd(tmp_path: Path) -> None:
    (tmp_path / "firebell.yaml").write_text("")
    env = {"FIREBELL_CONFIG": "/etc/firebell/env.yaml"}
    assert resolve_config_path("/srv/cli.yaml", env, tmp_path) == Path("/srv/cli.yaml")


def test_env_wins_over_cwd_file(tmp_path: Path) -> None:
    (tmp_path / "firebell.yaml").write_text("")
    env = {"FIREBELL_CONFIG": "/etc/firebell/env.yaml"}
    assert resolve_config_path(None, env, tmp_path) == Path("/etc/firebell/env.yaml")


def test_cwd_file_is_used_when_present(tmp_path: Path) -> None:
    assert resolve_config_path(None, {}, tmp_path) is None
    (tmp_path / "firebell.yaml").write_text("")
    assert resolve_config_path(None, {}, tmp_path) == tmp_path / "firebell.yaml"


def test_empty_env_value_is_unset_and_relative_paths_use_cwd(tmp_path: Path) -> None:
    assert resolve_config_path(None, {"FIREBELL_CONFIG": ""}, tmp_path) is None
    assert resolve_config_path("conf/a.yaml", {}, tmp_path) == tmp_path / "conf" / "a.yaml"
    env = {"FIREBELL_CONFIG": "b.yaml"}
    assert resolve_config_path(None, env, tmp_path) == tmp_path / "b.yaml"


# ---------------------------------------------------------------- database URLs


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://user@host:5432/db", "postgresql+psycopg://user@host:5432/db"),
        ("postgres://user:pw@host/db", "postgresql+psycopg://user:pw@host/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///./firebell.db", "sqlite:///./firebell.db"),
        ("sqlite:////var/lib/firebell.db", "sqlite:////var/lib/firebell.db"),
    ],
)
def test_database_url_for_sqlalchemy(url: str, expected: str) -> None:
    assert database_url_for_sqlalchemy(url) == expected


def test_redact_database_url_hides_only_the_password() -> None:
    assert redact_database_url("postgresql://app:s3cr%40t@db:5432/x") == (
        "postgresql://app:***@db:5432/x"
    )
    assert redact_database_url("postgresql://app@db/x") == "postgresql://app@db/x"
    assert redact_database_url("sqlite:///./firebell.db") == "sqlite:///./firebell.db"


# ---------------------------------------------------------------- secrets

ALL_SECRETS = """\
database_url: postgresql://app:DB-PASS-1%2F@db:5432/firebell
api_tokens: [API-TOKEN-1, API-TOKEN-2]
sources:
  alertmanager:
    bearer_token: AM-BEARER-1
    basic_auth: {username: prometheus, password: AM-PASSWORD-1}
  sentry: {client_secret: SENTRY-SECRET-1, legacy_token: SENTRY-LEGACY-1}
  nginx: {token: NGINX-TOKEN-1}
  generic: {token: GENERIC-TOKEN-1}
slack: {bot_token: xoxb-SLACK-BOT-1, signing_secret: SLACK-SIGN-1, app_token: xapp-SLACK-APP-1}
discord:
  bot_token: DISCORD-BOT-1
  application_id: "123456789012345678"
  public_key: "PUBLIC_KEY"
""".replace("PUBLIC_KEY", "ab" * 32)
SECRET_TEXTS = [
    "DB-PASS-1",
    "API-TOKEN-1",
    "API-TOKEN-2",
    "AM-BEARER-1",
    "AM-PASSWORD-1",
    "SENTRY-SECRET-1",
    "SENTRY-LEGACY-1",
    "NGINX-TOKEN-1",
    "GENERIC-TOKEN-1",
    "SLACK-BOT-1",
    "SLACK-SIGN-1",
    "SLACK-APP-1",
    "DISCORD-BOT-1",
]


def test_redacted_dump_hides_every_secret() -> None:
    settings = parse_config(ALL_SECRETS, {})
    dumped = settings.redacted_dump()
    text = json.dumps(dumped)
    for secret in SECRET_TEXTS:
        assert secret not in text
    assert dumped["api_tokens"] == ["***", "***"]
    assert dumped["sources"]["alertmanager"]["basic_auth"] == {
        "username": "prometheus",
        "password": "***",
    }
    assert dumped["database_url"] == "postgresql://app:***@db:5432/firebell"
    # Not secrets: kept so the dump stays useful.
    assert dumped["discord"]["public_key"] == "ab" * 32
    assert dumped["discord"]["application_id"] == "123456789012345678"
    assert dumped["sources"]["nginx"]["threshold"] == {"count": 1, "window": "1m"}


def test_secret_values_lists_every_secret_for_log_scrubbing() -> None:
    values = parse_config(ALL_SECRETS, {}).secret_values()
    for secret in SECRET_TEXTS:
        assert any(secret in value for value in values), secret
    # The URL-encoded and the decoded password can both reach a log line.
    assert "DB-PASS-1%2F" in values and "DB-PASS-1/" in values
    assert "prometheus" not in values and "ab" * 32 not in values
    assert values == sorted(values, key=lambda v: (-len(v), v))  # longest first


def test_defaults_have_no_secrets() -> None:
    assert default_settings().secret_values() == []


# ---------------------------------------------------------------- check-config


def test_check_config_ok_summary(tmp_path: Path) -> None:
    path = tmp_path / "firebell.yaml"
    path.write_text(SOURCES_EXAMPLE, encoding="utf-8")
    ok, report = check_config_file(path, SOURCES_ENV)
    assert ok
    lines = report.splitlines()
    assert lines[0] == f"OK: {path}"
    assert "  alertmanager: bearer token" in lines
    assert "  sentry: signed (client_secret)" in lines
    assert "  nginx: token; syslog on 127.0.0.1:5514 (UDP and TCP)" in lines
    assert "  generic: api_tokens" in lines
    assert any(line.startswith("users: 0, teams: 0, schedules: 0") for line in lines)
    assert "api-token-value" not in report


def test_check_config_reports_errors_one_per_line(tmp_path: Path) -> None:
    path = tmp_path / "firebell.yaml"
    path.write_text(SOURCES_EXAMPLE.replace("window: 1m", "window: 1x"), encoding="utf-8")
    ok, report = check_config_file(path, {})
    assert not ok
    lines = report.splitlines()
    assert lines[0] == f"INVALID: {path} (5 errors)"
    assert lines[1:] == [
        "api_tokens[0]: environment variable FIREBELL_API_TOKEN is not set (line 2)",
        "sources.alertmanager.bearer_token: environment variable AM_TOKEN is not set (line 5)",
        "sources.sentry.client_secret: environment variable SENTRY_CLIENT_SECRET is not set "
        "(line 7)",
        "sources.nginx.token: environment variable NGINX_TOKEN is not set (line 10)",
        'sources.nginx.threshold.window: invalid duration "1x" (line 13)',
    ]


def test_check_config_builtin_default_is_ok() -> None:
    ok, report = check_config_file(None, {})
    assert ok
    assert report.splitlines()[0] == "OK: built-in default (no config file)"
    assert "  (no credentials configured: the server only binds to loopback)" in report


def test_check_config_missing_file_and_missing_playbooks(tmp_path: Path) -> None:
    ok, report = check_config_file(tmp_path / "nope.yaml", {})
    assert not ok and "cannot read" in report and "nope.yaml" in report
    path = tmp_path / "firebell.yaml"
    path.write_text(f"playbooks: {tmp_path / 'missing'}\n", encoding="utf-8")
    ok, report = check_config_file(path, {})
    assert not ok and "playbooks: folder" in report and "does not exist" in report
    (tmp_path / "missing").mkdir()
    assert check_config_file(path, {})[0]


def test_load_config_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path, {})  # a directory
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"public_url: caf\xe9\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(bad, {})


def test_settings_can_be_built_directly_in_python() -> None:
    settings = Settings.model_validate(
        {"api_tokens": ["t"], "sources": {"nginx": {"threshold": {"count": 3}}}}
    )
    assert settings.sources.nginx.threshold.count == 3
    assert settings.sources.nginx.threshold.window == timedelta(minutes=1)
