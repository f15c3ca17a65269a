"""`run ID NAME [k=v ...] [--dry-run]`: text, Discord options and the CLI's words parse
alike; any value written with quote_param reads back exactly (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.commands import CommandError, RunPlaybook, command_from_options, parse_command
from bot.commands.parse import parse_params, tokenize

HOW = "/incident run 42 api-5xx window=1h"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("run 3 api-5xx", RunPlaybook(3, "api-5xx")),
        ("run #3 api-5xx window=1h", RunPlaybook(3, "api-5xx", (("window", "1h"),))),
        (
            "run 3 api-5xx window=1h --dry-run",
            RunPlaybook(3, "api-5xx", (("window", "1h"),), dry_run=True),
        ),
        ("run 3 --dry-run api-5xx", RunPlaybook(3, "api-5xx", dry_run=True)),
        (
            'run 3 api-5xx q="a b=c" n=2',
            RunPlaybook(3, "api-5xx", (("q", "a b=c"), ("n", "2"))),
        ),
        (r'run 3 x q="say \"hi\" \\ ok"', RunPlaybook(3, "x", (("q", r'say "hi" \ ok'),))),
        ("run 3 x empty=", RunPlaybook(3, "x", (("empty", ""),))),
        ("/incident run 3 x", RunPlaybook(3, "x")),
    ],
)
def test_run_parses_params_and_the_dry_run_flag(text: str, expected: RunPlaybook) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("run", f"run needs an incident id: {HOW}"),
        ("run 3", f"run needs a playbook name after the incident id: {HOW}"),
        ("run 3 --dry-run", f"run needs a playbook name after the incident id: {HOW}"),
        ("run 3 window=1h", f"run needs a playbook name after the incident id: {HOW}"),
        ("run api-5xx 3", f"run: 'api-5xx' is not an incident id (a number like 42): {HOW}"),
        ("run 3 x 1h", f"run: '1h' is not a parameter (write name=value, like window=1h): {HOW}"),
        ("run 3 x Window=1h", f"run: 'Window=1h' is not a parameter (write name=value, like "
                              f"window=1h): {HOW}"),
        ("run 3 x a=1 a=2", f"run: parameter 'a' is given twice: {HOW}"),
        ("run 3 x --force", f"run: unknown option '--force' (only --dry-run): {HOW}"),
        ('run 3 x q="open', f"run: parameter 'q': the value's double quotes do not pair up: {HOW}"),
        ('run 3 x q="a"b', f"run: parameter 'q': the value's double quotes do not pair up: {HOW}"),
    ],
)  # fmt: skip
def test_run_errors_say_what_is_wrong(text: str, message: str) -> None:
    assert parse_command(text) == CommandError(message)


def test_more_than_twenty_params_are_refused() -> None:
    words = " ".join(f"p{i}=1" for i in range(21))
    assert parse_command(f"run 3 x {words}") == CommandError(f"run: at most 20 parameters: {HOW}")


def test_discord_options_build_the_same_command() -> None:
    options = {"id": 3, "playbook": "api-5xx", "params": 'window=1h q="a b"', "dry_run": True}
    assert command_from_options("run", options) == parse_command(
        'run 3 api-5xx window=1h q="a b" --dry-run'
    )
    assert command_from_options("run", {"id": 3, "playbook": "x"}) == RunPlaybook(3, "x")
    bad = command_from_options("run", {"id": 3, "playbook": "x", "params": "oops"})
    assert isinstance(bad, CommandError) and "'oops' is not a parameter" in bad.message


def test_the_cli_words_parse_as_chat_text() -> None:
    # `firebell incident run 3 api-5xx window=1h --dry-run`: argv joined back with spaces.
    argv = ["run", "3", "api-5xx", "window=1h", "--dry-run"]
    assert parse_command(" ".join(argv), prefix="firebell incident") == RunPlaybook(
        3, "api-5xx", (("window", "1h"),), dry_run=True
    )


KEYS = st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True)
# Any text a person can type (no NUL, no lone surrogate: those are refused before this).
VALUES = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))


def quote_param(key: str, value: str) -> str:
    """The `name="value"` word a person types for any value: \\ and \" escaped."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{key}="{escaped}"'


@given(st.dictionaries(KEYS, VALUES, max_size=6))
def test_any_quoted_value_reads_back_exactly(params: dict[str, str]) -> None:
    words = [quote_param(k, v) for k, v in params.items()]
    assert parse_params(tokenize(" ".join(words))) == tuple(params.items())
    command = parse_command(" ".join(["run", "3", "x", *words, "--dry-run"]))
    assert command == RunPlaybook(3, "x", tuple(params.items()), dry_run=True)


@given(st.text(max_size=60))
def test_parse_params_never_raises(text: str) -> None:
    result = parse_params(tokenize(text))
    assert isinstance(result, (tuple, CommandError))
    if isinstance(result, tuple):  # every word was name=value
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in result)
