"""What reaches a log line: configured secrets of any length are masked (also as JSON
escapes them), and a failed statement's bound values are never printed (SQLite and
PostgreSQL engines both hide them)."""

from __future__ import annotations

import json
import logging
import sys

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bot.config import parse_config
from bot.runtime.logs import JsonFormatter
from routing.storage.database import make_engine


def formatted(formatter: JsonFormatter, message: str, *args: object, exc: bool = False) -> str:
    record = logging.LogRecord("firebell.test", logging.ERROR, __file__, 1, message, args, None)
    if exc:
        record.exc_info = sys.exc_info()
    return formatter.format(record)


def test_secrets_of_any_length_are_masked() -> None:
    formatter = JsonFormatter(["k9", 'quo"te\\slash', "a-much-longer-token"])
    line = formatted(formatter, "tokens %s %s %s", "k9", 'quo"te\\slash', "a-much-longer-token")
    assert "k9" not in line and "quo" not in line and "longer" not in line
    assert json.loads(line)["msg"] == "tokens *** *** ***"


def test_the_settings_secrets_include_short_tokens_and_contact_urls() -> None:
    settings = parse_config(
        "api_tokens: [k9]\nusers: [{name: alice, contacts: ['mailto://al:pw@mail.example.com']}]\n",
        {},
    )
    formatter = JsonFormatter(settings.secret_values())
    line = formatted(
        formatter, "failed %s via %s (%s)", "k9", "mailto://al:pw@mail.example.com", "pw"
    )
    assert json.loads(line)["msg"] == "failed *** via *** (***)"


def test_a_failed_statement_logs_no_bound_value(database_url: str) -> None:
    engine = make_engine(database_url)
    # Not a configured secret: only the engine can keep it out of the message.
    token = "raw-payload-bearer-3f9c"
    try:
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO no_such_table (token) VALUES (:token)"), {"token": token}
            )
    except SQLAlchemyError as error:
        assert token not in str(error)
        assert "[SQL parameters hidden due to hide_parameters=True]" in str(error)
        try:
            raise error
        except SQLAlchemyError:
            line = formatted(JsonFormatter(), "database error", exc=True)
        assert token not in line and "no_such_table" in line
    else:
        pytest.fail("the statement should have failed")
    finally:
        engine.dispose()
