"""The `database:` section: its deadlines are validated, named by path when wrong, and
reach the engine `firebell serve` builds."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from bot.config import ConfigError, parse_config
from bot.roles import create_app
from routing.storage.postgres_deadlines import PostgresTimeouts


def only_error(text: str) -> tuple[str, str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, {})
    assert len(caught.value.errors) == 1, caught.value.errors
    return caught.value.errors[0]


def test_defaults_and_durations() -> None:
    assert parse_config("database:\n", {}).database.postgres_timeouts() == PostgresTimeouts(
        connect=2, statement=3.0, pool=2.0
    )
    text = "database: {connect_timeout: 4s, statement_timeout: 1500ms, pool_timeout: 1s}\n"
    timeouts = parse_config(text, {}).database.postgres_timeouts()
    assert timeouts == PostgresTimeouts(connect=4, statement=1.5, pool=1.0)
    assert timeouts.round_trip == 2.0


@pytest.mark.parametrize(
    ("text", "path", "message"),
    [
        ("database: {connect_timeout: 1s}", "database.connect_timeout", "whole seconds, 2s"),
        ("database: {connect_timeout: 2500ms}", "database.connect_timeout", "whole seconds"),
        ("database: {statement_timeout: 0s}", "database.statement_timeout", "longer than 0s"),
        ("database: {pool_timeout: 1x}", "database.pool_timeout", "invalid duration"),
        ("database: {statment_timeout: 1s}", "database.statment_timeout", "statement_timeout"),
        (
            "database_url: postgresql://u@db/x?connect_timeout=5\ndatabase: {connect_timeout: 3s}",
            "database.connect_timeout",
            "set it in one place",
        ),
    ],
)
def test_bad_values_are_named_by_path(text: str, path: str, message: str) -> None:
    found_path, found_message = only_error(text + "\n")
    assert found_path == path
    assert message in found_message


def test_a_connect_timeout_in_the_url_alone_is_fine() -> None:
    settings = parse_config("database_url: postgresql://u@db/x?connect_timeout=5\n", {})
    assert settings.database.postgres_timeouts().connect == 2  # the URL's 5 wins at connect


@pytest.mark.postgres
def test_serve_builds_its_engine_with_the_configured_deadlines(pg_database_url: str) -> None:
    config = (
        f"database_url: {pg_database_url}\n"
        "database: {statement_timeout: 1500ms, connect_timeout: 4s}\n"
    )
    app = create_app(parse_config(config, {}))
    engine = app.state.runtime.engine
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "1500ms"
            raw = conn.connection.driver_connection
            assert raw is not None
            assert raw.info.get_parameters()["connect_timeout"] == "4"
    finally:
        engine.dispose()
