"""Config errors: every problem is collected and named by its path in the file."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, parse_config, render_path
from bot.config.explain import split_cross_checks


def errors_of(text: str, env: dict[str, str] | None = None) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, env or {})
    return caught.value.errors


def only_error(text: str, env: dict[str, str] | None = None) -> tuple[str, str]:
    errors = errors_of(text, env)
    assert len(errors) == 1, errors
    return errors[0]


def test_bad_duration_names_the_path() -> None:
    text = "sources:\n  nginx:\n    threshold: {count: 5, window: 1x}\n"
    assert only_error(text) == ("sources.nginx.threshold.window", 'invalid duration "1x"')
    with pytest.raises(ConfigError) as caught:
        parse_config(text, {})
    assert str(caught.value) == 'sources.nginx.threshold.window: invalid duration "1x" (line 3)'
    assert caught.value.lines == [3]


def test_unknown_key_suggests_the_close_one() -> None:
    text = "sources:\n  nginx:\n    thresold: {count: 5}\n"
    assert only_error(text) == ("sources.nginx.thresold", 'unknown key (did you mean "threshold"?)')


def test_unknown_key_lists_the_known_ones() -> None:
    path, message = only_error("grouping: {zzz: 1}\n")
    assert path == "grouping.zzz"
    assert message == (
        "unknown key (expected one of: group_by, reopen_window, flap_flips, flap_quiet, "
        "group_wait, correlate_within)"
    )


def test_unknown_top_level_key() -> None:
    path, message = only_error("databse_url: sqlite://\n")
    assert (path, message) == ("databse_url", 'unknown key (did you mean "database_url"?)')


def test_missing_env_var() -> None:
    assert only_error('api_tokens: ["${FIREBELL_API_TOKEN}"]\n') == (
        "api_tokens[0]",
        "environment variable FIREBELL_API_TOKEN is not set",
    )


def test_missing_env_var_hides_follow_on_validation_errors() -> None:
    # "${DISCORD_PUBLIC_KEY}" is not 64 hex characters either; only the real cause is shown.
    text = 'discord: {bot_token: t, application_id: "1", public_key: "${DISCORD_PUBLIC_KEY}"}\n'
    assert only_error(text) == (
        "discord.public_key",
        "environment variable DISCORD_PUBLIC_KEY is not set",
    )


@pytest.mark.parametrize("value", ["", "   "])
def test_blank_token_after_interpolation(value: str) -> None:
    path, message = only_error('api_tokens: ["${T}"]\n', {"T": value})
    assert path == "api_tokens[0]"
    assert message.startswith("must not be blank")


def test_token_with_a_trailing_newline_is_rejected() -> None:
    path, message = only_error("sources: {nginx: {token: '${T}'}}\n", {"T": "abc\n"})
    assert path == "sources.nginx.token"
    assert "leading or trailing whitespace" in message
    assert "abc" not in message  # never echo a secret


@pytest.mark.parametrize(
    ("listen", "fragment"),
    [
        ("127.0.0.1", "expected host:port"),
        ("127.0.0.1:", "expected host:port"),
        (":5514", "expected host:port"),
        ("127.0.0.1:0", "port 0 is not in 1-65535"),
        ("127.0.0.1:65536", "port 65536 is not in 1-65535"),
        ("127.0.0.1:abc", "expected host:port"),
        ("::1:514", "write IPv6 hosts as [::1]:514"),
        ("[::zz]:514", "bad IPv6 address"),
        ("bad host:514", 'bad host "bad host"'),
    ],
)
def test_bad_listen_address(listen: str, fragment: str) -> None:
    path, message = only_error(f'sources: {{nginx: {{syslog: {{listen: "{listen}"}}}}}}\n')
    assert path == "sources.nginx.syslog.listen"
    assert message.startswith(f'invalid listen address "{listen}"')
    assert fragment in message


@pytest.mark.parametrize("listen", ["127.0.0.1:5514", "0.0.0.0:514", "[::1]:5514", "logs.lan:1"])
def test_good_listen_address(listen: str) -> None:
    settings = parse_config(f'sources: {{nginx: {{syslog: {{listen: "{listen}"}}}}}}\n', {})
    assert settings.sources.nginx.syslog is not None
    assert settings.sources.nginx.syslog.listen == listen


def test_yaml_syntax_error_names_line_and_column() -> None:
    errors = errors_of("sources:\n  nginx:\n    token: [abc\n")
    assert len(errors) == 1
    path, message = errors[0]
    assert path == ""
    assert message.startswith("YAML syntax error at line 4, column 1:")


def test_yaml_mapping_error_line() -> None:
    (_, message) = only_error("grouping:\n  group_by: [a]\n  reopen_window: 5m: x\n")
    assert message.startswith("YAML syntax error at line 3, column 20")


def test_duplicate_key_is_an_error_with_both_lines() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("max_body_bytes: 10\npublic_url: https://a.example\nmax_body_bytes: 20\n", {})
    assert caught.value.errors == [("max_body_bytes", "duplicate key (first at line 1)")]
    assert caught.value.lines == [3]


def test_unsafe_yaml_tags_are_rejected() -> None:
    (_, message) = only_error("public_url: !!python/object/apply:os.system ['true']\n")
    assert message.startswith("YAML syntax error at line 1")


def test_top_level_must_be_a_mapping() -> None:
    assert only_error("- a\n- b\n") == (
        "",
        "the config must be a mapping of sections (database_url:, sources:, ...), got a list",
    )


def test_all_errors_are_collected_in_file_order() -> None:
    text = (
        "max_body_bytes: 0\n"
        "sources:\n"
        "  nginx:\n"
        "    threshold: {count: 0, window: 0s}\n"
        "    resolve_after: 0s\n"
        "grouping: {flap_flips: 0}\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, {})
    paths = [path for path, _ in caught.value.errors]
    assert paths == [
        "max_body_bytes",
        "sources.nginx.threshold.count",
        "sources.nginx.threshold.window",
        "sources.nginx.resolve_after",
        "grouping.flap_flips",
    ]
    assert str(caught.value).count("\n") == 4  # one line per error
    messages = dict(caught.value.errors)
    assert messages["max_body_bytes"] == "must be greater than 0"
    assert messages["sources.nginx.threshold.window"] == "must be longer than 0s"


def test_zero_is_fine_where_it_means_something() -> None:
    settings = parse_config("grouping: {reopen_window: 0s, group_wait: 0s}\n", {})
    assert settings.grouping.reopen_window.total_seconds() == 0


def test_negative_number_duration() -> None:
    path, message = only_error("grouping: {reopen_window: -5}\n")
    assert path == "grouping.reopen_window"
    assert "negative" in message


def test_type_errors_say_what_was_expected() -> None:
    assert only_error("slack: [a]\n") == ("slack", "expected a mapping (key: value), got a list")
    assert only_error("max_body_bytes: 1MB\n") == (
        "max_body_bytes",
        'expected a whole number, got the text "1MB"',
    )
    assert only_error("grouping: {group_by: abc}\n") == (
        "grouping.group_by",
        'expected a list, got the text "abc"',
    )
    # Where secrets belong, text of the wrong type is still not shown (a token, a URL).
    assert only_error("api_tokens: abc\n") == ("api_tokens", "expected a list, got text")
    assert only_error("users: [{name: a, contacts: 'mailto://a:pw@h.io'}]\n") == (
        "users[0].contacts",
        "expected a list, got text",
    )
    assert only_error("sources: {alertmanager: {basic_auth: 'u:pw'}}\n") == (
        "sources.alertmanager.basic_auth",
        "expected a mapping (key: value), got text",
    )


def test_required_keys() -> None:
    errors = errors_of("slack: {bot_token: xoxb-1}\n")
    assert errors == [("slack.signing_secret", "required")]


def test_dict_keys_that_are_not_names_are_quoted_in_paths() -> None:
    path, message = only_error('sources: {nginx: {services: {"api.example.com": ""}}}\n')
    assert path == 'sources.nginx.services["api.example.com"]'
    assert message.startswith("must not be blank")


def test_database_url_scheme_without_echoing_the_password() -> None:
    path, message = only_error("database_url: mysql://app:hunter2@db/x\n")
    assert path == "database_url"
    assert message.startswith('unsupported database URL scheme "mysql"')
    assert "hunter2" not in message
    path, message = only_error("database_url: postgresql://app:hunter2@db:port/x\n")
    assert path == "database_url" and "hunter2" not in message


@pytest.mark.parametrize(
    ("yaml_text", "path", "fragment"),
    [
        ("discord: {bot_token: t, application_id: abc, public_key: %s}" % ("a" * 64),
         "discord.application_id", 'invalid Discord id "abc"'),
        ("discord: {bot_token: t, application_id: 1, public_key: abc}",
         "discord.public_key", "must be 64 hex characters"),
        ("discord: {bot_token: t, application_id: 1, public_key: %s, api_url: ftp://x}"
         % ("a" * 64),
         "discord.api_url", 'invalid URL "ftp://x"'),
        ("slack: {bot_token: xapp-1, signing_secret: s}",
         "slack.bot_token", "belongs in slack.app_token"),
        ("slack: {bot_token: xoxb-1, signing_secret: s, app_token: xoxb-2}",
         "slack.app_token", "app-level token"),
        ("slack: {bot_token: xoxb-1, signing_secret: s, command: incident}",
         "slack.command", 'invalid slash command "incident"'),
        ("sources: {sentry: {legacy_token: a/b}}",
         "sources.sentry.legacy_token", "webhook URL path"),
        ("grouping: {group_by: []}", "grouping.group_by", "at least one label"),
        ("grouping: {group_by: [service, service]}", "grouping.group_by", "more than once"),
        ("grouping: {group_by: ['...']}", "grouping.group_by", 'invalid label name "..."'),
        ("public_url: firebell.example.com", "public_url", "expected http://"),
        ("sources: {alertmanager: {basic_auth: {username: '', password: p}}}",
         "sources.alertmanager.basic_auth.username", "must not be blank"),
    ],
)  # fmt: skip
def test_field_validation(yaml_text: str, path: str, fragment: str) -> None:
    got_path, message = only_error(yaml_text + "\n")
    assert got_path == path
    assert fragment in message


def test_cross_check_lines_are_split_into_path_errors() -> None:
    # The routing sections report reference problems as one multi-line ValueError.
    message = (
        "invalid references:\n"
        "  teams.0.members.1: unknown user 'bob' (known: alice)\n"
        "  route.routes.2.receiver.escalation: unknown escalation policy 'x'\n"
        "  something without a path"
    )
    assert split_cross_checks(message) == [
        (("teams", 0, "members", 1), "unknown user 'bob' (known: alice)"),
        (("route", "routes", 2, "receiver", "escalation"), "unknown escalation policy 'x'"),
        ((), "something without a path"),
    ]
    assert render_path(("teams", 0, "members", 1)) == "teams[0].members[1]"


def test_config_error_str_is_one_line_per_error() -> None:
    error = ConfigError([("a.b", "bad"), ("", "whole file")], [2, None])
    assert str(error) == "a.b: bad (line 2)\nwhole file"
