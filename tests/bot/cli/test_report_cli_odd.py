"""`firebell report` and `firebell incident postmortem` given odd flags: exit 2 with one
line naming the flag, never a traceback (the calendar's edges used to overflow in the
period arithmetic; that case runs on SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli.main import main
from routing.storage.migrate import upgrade
from tests.bot.cli.test_report_cli import make_config

REPORT = [
    (["--days", "x"], "--days"),
    (["--days", "²"], "--days"),
    (["--days", "0"], "--days"),
    (["--days", "-1"], "--days"),
    (["--days", "99999999999999999999"], "--days"),
    (["--from", "x"], "--from"),
    (["--from", "0001-01-01"], "--from"),
    (["--to", "0001-01-01"], "--to"),
    (["--to", "0001-01-01T00:00+14:00"], "--to"),
    (["--from", "9999-12-31T23:59:59-14:00"], "--from"),
    (["--from", "9999-12-31"], "--from"),
    (["--from", "2026-12-06", "--to", "2026-12-06"], "--from"),
    (["--top", "x"], "--top"),
    (["--top", "51"], "--top"),
]
POSTMORTEM = [
    (["x"], "incident_id"),
    (["²"], "incident_id"),
    (["0"], "incident_id"),
    (["-5"], "incident_id"),  # read as an option: still exit 2, not a traceback
    (["99999999999999999999999"], "incident_id"),
    (["1", "--format", "xml"], "--format"),
    ([], "incident_id"),
]


def run(args: list[str]) -> int:
    try:
        return main(args)
    except SystemExit as stop:  # argparse's own refusals
        return int(stop.code or 0)


@pytest.mark.parametrize(("args", "flag"), REPORT)
def test_report_refuses_naming_the_flag(
    args: list[str], flag: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/firebell.db"
    upgrade(url)
    assert run(["report", *args, "--config", str(make_config(tmp_path, url))]) == 2
    err = capsys.readouterr().err
    assert flag in err and "Traceback" not in err, err


@pytest.mark.parametrize(("args", "flag"), POSTMORTEM)
def test_postmortem_refuses_naming_the_argument(
    args: list[str], flag: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/firebell.db"
    upgrade(url)
    config = make_config(tmp_path, url)
    assert run(["incident", "postmortem", *args, "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and (flag in err or "required" in err), err


def test_edge_of_calendar_periods_on_both_databases(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A period at the calendar's edge is either reported or refused, on both databases."""
    config = str(make_config(tmp_path, database_url))
    for args in (["--from", "0001-01-02", "--to", "0001-01-03"],
                 ["--from", "9999-12-30", "--to", "9999-12-31"]):  # fmt: skip
        assert run(["report", *args, "--json", "--config", config]) in (0, 2)
        assert "Traceback" not in capsys.readouterr().err
