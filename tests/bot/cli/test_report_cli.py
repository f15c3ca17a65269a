"""`firebell report` and `firebell incident postmortem` on SQLite and PostgreSQL: the
same figures and document as the REST API, plain lines when piped, usage errors named
with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from bot.cli.main import main
from routing.intake.alert import Alert, AlertStatus, Severity
from routing.intake.fingerprint import fingerprint_of
from routing.intake.ingest import ingest
from routing.intake.submission import IngestPolicy, Submission
from routing.response import actions
from routing.storage.database import make_engine
from routing.storage.migrate import upgrade


def make_config(tmp_path: Path, database_url: str) -> Path:
    config = tmp_path / "firebell.yaml"
    config.write_text(yaml.safe_dump({"database_url": database_url}))
    return config


def opened_and_acked(database_url: str) -> int:
    """An incident opened two hours ago through ingest, acknowledged 5 minutes later."""
    upgrade(database_url)
    engine = make_engine(database_url)
    opened = datetime.now(UTC) - timedelta(hours=2)
    identity = {"alertname": "DiskFull", "service": "db"}
    alert = Alert(
        "alertmanager", fingerprint_of("alertmanager", identity), AlertStatus.FIRING,
        Severity.WARNING, "db", "DiskFull on db", labels=identity, fingerprint_fields=identity,
    )  # fmt: skip
    try:
        with engine.begin() as conn:
            outcome = ingest(conn, [Submission("alertmanager", [alert])], opened, IngestPolicy())
        incident_id = outcome.submissions[0].alerts[0].incident_id
        assert incident_id is not None
        with engine.begin() as conn:
            actions.acknowledge(conn, incident_id, "alice", opened + timedelta(minutes=5))
    finally:
        engine.dispose()
    return incident_id


def test_report_json_text_and_usage_errors(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = make_config(tmp_path, database_url)
    opened_and_acked(database_url)

    assert main(["report", "--config", str(config), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["totals"]["opened"] == 1
    assert report["overall"]["mtta"] == {"count": 1, "median_s": 300.0, "p90_s": 300.0}
    assert report["by_service"][0]["service"] == "db"

    assert main(["report", "--days", "2", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Incidents opened ")
    assert "1 (1 acknowledged, 0 resolved, 1 open, 0 resolved without ack)" in out
    assert "MTTA 5m / 5m (n=1)" in out
    assert "Incidents per day (UTC):" in out and "1 x DiskFull on db (db, alertmanager)" in out

    for args, message in [
        (["--days", "0"], "--days: must be between 1 and 366"),
        (["--days", "3", "--from", "2026-01-01"], "--days: give either days or from/to"),
        (["--from", "2026-02-01", "--to", "2026-01-01"], "--from: `from` must be before `to`"),
        (["--top", "0"], "--top: must be between 1 and 50"),
    ]:
        assert main(["report", *args, "--config", str(config)]) == 2
        assert capsys.readouterr().err.startswith(f"firebell: {message}")
    with pytest.raises(SystemExit) as bad:
        main(["report", "--from", "someday"])
    assert bad.value.code == 2


def test_incident_postmortem(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = make_config(tmp_path, database_url)
    incident_id = opened_and_acked(database_url)

    assert main(["incident", "postmortem", str(incident_id), "--config", str(config)]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"# Postmortem: incident \\#{incident_id}: DiskFull on db\n")
    assert "- **Time to acknowledge (MTTA):** 5m by alice" in text

    target = tmp_path / "out"
    target.mkdir()
    code = main(
        ["incident", "postmortem", str(incident_id), "--format", "json", "-o", str(target),
         "--config", str(config)]
    )  # fmt: skip
    assert code == 0
    written = target / f"incident-{incident_id}-postmortem.json"
    assert json.loads(written.read_text())["incident"]["id"] == incident_id
    assert capsys.readouterr().err == f"wrote {written}\n"

    # --json after the words (as for every incident command) means the JSON document.
    assert (
        main(["incident", "postmortem", str(incident_id), "--json", "--config", str(config)]) == 0
    )
    assert json.loads(capsys.readouterr().out)["figures"]["tta_s"] == 300.0

    assert main(["incident", "postmortem", "999", "--config", str(config)]) == 1
    assert capsys.readouterr().err == "firebell: no incident #999\n"
    with pytest.raises(SystemExit) as bad:
        main(["incident", "postmortem", "abc", "--config", str(config)])
    assert bad.value.code == 2


def test_the_installed_command_runs_in_a_subprocess(database_url: str, tmp_path: Path) -> None:
    config = make_config(tmp_path, database_url)
    opened_and_acked(database_url)
    command = [sys.executable, "-m", "bot.cli", "report", "--days", "1", "--json"]
    done = subprocess.run(
        [*command, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["totals"]["acknowledged"] == 1


def test_a_terminal_gets_tables(database_url: str, tmp_path: Path) -> None:
    from rich.console import Console

    from bot.cli.report import report_tables

    make_config(tmp_path, database_url)
    opened_and_acked(database_url)
    engine = make_engine(database_url)
    try:
        from routing.response.report_store import load_report
        from routing.response.reports import choose_period

        now = datetime.now(UTC)
        with engine.connect() as conn:
            report = load_report(conn, choose_period(now, days=2), now)
    finally:
        engine.dispose()
    console = Console(record=True, width=160, force_terminal=True)
    for table in report_tables(report):
        console.print(table)
    shown = console.export_text()
    assert "By severity" in shown and "Incidents per day (UTC)" in shown
    assert "Noisiest alerts" in shown and "DiskFull on db" in shown
    assert "5m / 5m (n=1)" in shown
