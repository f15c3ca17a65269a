"""Recurring silences from chat and the CLI: `silence MATCHERS every:DAYS/HH:MM-HH:MM[/ZONE]`
parses into the config's recurrence grammar, is stored, and `silences` lists it with its
true state (pending until its next window)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.commands.model import CommandError, SilenceAlerts
from bot.commands.parse import command_from_options, parse_command
from routing.basics.clock import WEEKDAYS
from routing.muting.matcher import Matcher, MatchType
from routing.muting.silence import Recurrence
from tests.bot.commands.test_cli import run_cli

DB = (Matcher("service", MatchType.EQUAL, "db"),)


def test_a_weekly_window_fills_the_duration_slot() -> None:
    command = parse_command("silence service=db every:sun/02:00-04:00/Europe/Madrid backups run")
    assert command == SilenceAlerts(
        DB,
        None,
        "backups run",
        recurrence=Recurrence.model_validate(
            {"weekdays": ["sun"], "times": ["02:00-04:00"], "time_zone": "Europe/Madrid"}
        ),
    )
    nightly = parse_command("silence 42 every:daily/22:00-06:00,12:00-13:00")
    assert nightly == SilenceAlerts(
        (),
        None,
        "",
        42,
        Recurrence(weekdays=[], times=["22:00-06:00", "12:00-13:00"]),
    )
    # Discord's options carry it in the same slot.
    from_options = command_from_options(
        "silence", {"matchers": "service=db", "duration": "every:mon-fri"}
    )
    assert from_options == SilenceAlerts(DB, None, "", recurrence=Recurrence(weekdays=["mon-fri"]))


@pytest.mark.parametrize(
    ("window", "problem"),
    [
        ("every:", "names no days"),
        ("every:caturday/02:00-04:00", "unknown weekday"),
        ("every:sun/2am-4am", "invalid time"),
        ("every:sun/02:00-04:00/Mars/Olympus", "unknown time zone"),
    ],
)
def test_a_bad_window_says_what_is_wrong(window: str, problem: str) -> None:
    result = parse_command(f"silence service=db {window}")
    assert isinstance(result, CommandError)
    assert problem in result.message
    assert result.message.endswith("every:sun/02:00-04:00/Europe/Madrid backups")


@given(st.text(max_size=40))
def test_any_window_text_parses_or_is_refused(tail: str) -> None:
    result = parse_command(f"silence service=db every:{tail.replace(' ', '')}")
    assert isinstance(result, SilenceAlerts | CommandError)


def test_the_cli_makes_and_lists_a_recurring_silence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Two days ahead: certainly not in force now, whatever the time of day.
    day = datetime.now(UTC).date() + timedelta(days=2)
    name = WEEKDAYS[day.weekday()]
    window = f"every:{name}/10:00-11:00"
    assert run_cli(tmp_path, "--as", "alice", "silence", "service=db", window, "weekly") == 0
    made = capsys.readouterr().out
    assert f'silenced service="db" every {name} 10:00-11:00 (UTC) until ended' in made
    assert f"next window {day.isoformat()} 10:00" in made

    assert run_cli(tmp_path, "silences") == 0
    listed = capsys.readouterr().out
    assert "[pending]" in listed and "[active]" not in listed
    assert f"every {name} 10:00-11:00 (UTC), next window {day.isoformat()} 10:00" in listed
