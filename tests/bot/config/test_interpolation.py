"""${VAR} interpolation, and fuzzing: any text either loads or fails with a ConfigError."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import ConfigError, Settings, interpolate, parse_config

NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True)


def test_variables_inside_longer_text() -> None:
    text = 'database_url: "postgresql://app:${PW}@${HOST}:5432/firebell"\n'
    settings = parse_config(text, {"PW": "pw", "HOST": "db"})
    assert settings.database_url == "postgresql://app:pw@db:5432/firebell"


def test_escape_gives_a_literal() -> None:
    settings = parse_config('playbooks: "/srv/$${HOME}/playbooks"\n', {})
    assert settings.playbooks == "/srv/${HOME}/playbooks"


def test_values_are_not_rescanned() -> None:
    settings = parse_config('playbooks: "${A}"\n', {"A": "${B}"})
    assert settings.playbooks == "${B}"


def test_every_missing_variable_is_reported() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config('playbooks: "${A}/${B}"\n', {})
    assert caught.value.errors == [
        ("playbooks", "environment variable A is not set"),
        ("playbooks", "environment variable B is not set"),
    ]


@pytest.mark.parametrize(
    ("value", "fragment"),
    [("${A", 'unterminated "${"'), ("${}", 'invalid variable name ""'), ("${1A}", '"1A"')],
)
def test_malformed_references(value: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(f'playbooks: "{value}"\n', {"A": "x"})
    [(path, message)] = caught.value.errors
    assert path == "playbooks"
    assert fragment in message


def test_interpolation_reaches_lists_nested_maps_and_routing_sections() -> None:
    text = "sources: {nginx: {services: {'${HOST}': '${SVC}'}}}\n"
    settings = parse_config(text, {"HOST": "ignored", "SVC": "api"})
    assert settings.sources.nginx.services == {"${HOST}": "api"}  # keys are not interpolated


def test_a_whole_number_can_come_from_the_environment() -> None:
    assert parse_config("max_body_bytes: ${MAX}\n", {"MAX": "2048"}).max_body_bytes == 2048


@given(st.text().filter(lambda t: "$" not in t))
def test_text_without_dollar_is_unchanged(text: str) -> None:
    assert interpolate(text, {}) == (text, [])


@given(NAMES, st.text(), st.text().filter(lambda t: "$" not in t))
def test_value_is_inserted_verbatim(name: str, value: str, around: str) -> None:
    assert interpolate(f"{around}${{{name}}}{around}", {name: value}) == (
        f"{around}{value}{around}",
        [],
    )


@given(NAMES)
def test_escape_never_reads_the_environment(name: str) -> None:
    assert interpolate(f"$${{{name}}}", {}) == (f"${{{name}}}", [])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_any_text_loads_or_raises_config_error(text: str) -> None:
    try:
        assert isinstance(parse_config(text, {"A": "x"}), Settings)
    except ConfigError as exc:
        assert exc.errors and all(isinstance(m, str) and m for _, m in exc.errors)
        assert len(str(exc).splitlines()) >= len(exc.errors)


SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 10**6), st.text(max_size=12), st.sampled_from(
        ["1m", "0s", "1x", "${A}", "${MISSING}", "127.0.0.1:5514", "postgresql://u:p@h/d", "a" * 64]
    )
)  # fmt: skip
KEYS = st.sampled_from(
    ["database_url", "api_tokens", "sources", "nginx", "sentry", "alertmanager", "generic",
     "threshold", "window", "count", "syslog", "listen", "services", "grouping", "group_by",
     "slack", "discord", "bot_token", "public_key", "token", "basic_auth", "typo", "users"]
)  # fmt: skip
TREES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(KEYS, children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(KEYS, TREES, max_size=5))
def test_any_structure_loads_or_raises_config_error(data: dict[str, object]) -> None:
    text = yaml.safe_dump(data)
    try:
        parse_config(text, {"A": "x"})
    except ConfigError as exc:
        assert exc.errors
        assert all(isinstance(p, str) and isinstance(m, str) and m for p, m in exc.errors)
