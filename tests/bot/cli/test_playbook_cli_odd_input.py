"""`firebell playbook` with odd values, on SQLite and PostgreSQL: one line on stderr and
exit 2 (argparse) or 1 (refused), never a traceback, and no run row written."""

from __future__ import annotations

from pathlib import Path

import pytest

from playbooks import run_store
from tests.bot.cli.test_playbook_cli import cli, database, open_incident, write_config
from tests.playbooks.surface_support import far_sides


def test_odd_values_are_one_line_refusals(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with far_sides() as sides:
        config = write_config(tmp_path, database_url, sides)
        incident_id = open_incident(config)
        iid = str(incident_id)
        for args in (
            ("run", "2147483648", "api-5xx", "--as", "alice"),
            ("run", "99999999999999999999", "api-5xx", "--as", "alice"),
            ("run", "0", "api-5xx", "--as", "alice"),
            ("run", iid, "api-5xx", "--param", "window=99999999999999999999w", "--as", "alice"),
            ("run", iid, "api-5xx", "--param", "window", "--as", "alice"),
            ("run", iid, "api\x005xx", "--as", "alice"),
            ("run", iid, "api-5xx", "--param", "window=1\x00h", "--as", "alice"),
            ("runs", "--incident", "2147483648"),
            ("logs", "2147483648"),
            ("logs", "1", "\x00"),
            ("cancel", "2147483648", "--as", "alice"),
            ("approve", "2147483648", "--as", "alice"),
            ("reject", "99999999999999999999", "--as", "alice"),
            ("approve", "1", "--as", "alice", "--comment", "\x00"),
            ("request-again", "2147483648", "--as", "alice"),
            ("show", "\x00"),
        ):
            try:
                code, _out, err = cli(capsys, config, *args)
            except SystemExit as exit_:  # argparse: usage and one error line
                code, err = int(str(exit_.code)), capsys.readouterr().err
                assert err.strip().splitlines()[-1].startswith("firebell"), (args, err)
                err = err.strip().splitlines()[-1]  # after argparse's usage lines
            assert code in (1, 2), (args, code, err)
            assert "Traceback" not in err and len(err.strip().splitlines()) <= 2, (args, err)
            assert err.strip(), args
        with database(config) as (_settings, engine), engine.connect() as conn:
            assert run_store.list_runs(conn, incident_id) == []
