"""`python -m bot.cli.main simulate` as a process: --at, --json, text output, exit codes, and
the database left exactly as it was, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.support.paging import am_payload
from tests.support.paths import REPO as REPO_ROOT
from tests.support.simulate import BEFORE_HANDOFF, example_config, row_counts, seed, settings_for

REPO = REPO_ROOT


def run_cli(
    config: Path, *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "simulate", "--config", str(config), *args],
        cwd=REPO,
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def write(tmp_path: Path, database_url: str) -> tuple[Path, Path]:
    config = tmp_path / "firebell.yaml"
    config.write_text(example_config(database_url))
    payload = tmp_path / "critical.json"
    payload.write_bytes(am_payload("HighErrorRate", severity="critical", service="api"))
    return config, payload


def test_json_at_t_pages_the_on_call_people_and_writes_nothing(
    database_url: str, tmp_path: Path
) -> None:
    config, payload = write(tmp_path, database_url)
    seed(settings_for(database_url), am_payload("Other", service="web"), BEFORE_HANDOFF)
    before = row_counts(database_url)

    done = run_cli(
        config, "--source", "alertmanager", str(payload), "--at", "2026-05-04T06:58:00Z", "--json"
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["at"] == "2026-05-04T06:58:00+00:00"
    (alert,) = data["alerts"]
    assert alert["decision"] == "new"
    assert [r["path"] for r in alert["routes"]] == ["root/0", "root/2"]
    assert alert["routes"][0]["escalation"] == "backend"
    steps = alert["escalations"][0]["steps"]
    people = [(s["after"], [r["name"] for t in s["targets"] for r in t["reaches"]]) for s in steps]
    assert people == [
        ("0s", ["bob"]),
        ("5m", ["carol", "backend"]),
        ("15m", ["alice"]),
        ("20m", ["carol", "backend"]),
        ("30m", ["alice"]),
        ("35m", ["carol", "backend"]),
    ]
    assert row_counts(database_url) == before


def test_text_from_stdin_and_at_defaults_to_now(database_url: str, tmp_path: Path) -> None:
    config, payload = write(tmp_path, database_url)
    started = datetime.now(UTC)
    done = run_cli(config, "--source", "alertmanager", "-", stdin=payload.read_bytes())
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    match = re.search(r"^at \(T\)\s+\w{3} (\S+ \S+) UTC", done.stdout, re.MULTILINE)
    assert match is not None, done.stdout
    shown = datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC)
    assert abs(shown - started) < timedelta(minutes=1)
    assert "  paging       pages: escalation backend and 2 channel notices" in lines
    assert any(line.strip().startswith("-> channel") for line in lines)


def test_bad_input_exits_non_zero_with_the_reason(database_url: str, tmp_path: Path) -> None:
    config, payload = write(tmp_path, database_url)
    unknown = run_cli(config, "--source", "pagerduty", str(payload))
    assert unknown.returncode == 1
    assert "unknown source 'pagerduty'" in unknown.stdout
    broken = tmp_path / "broken.json"
    broken.write_text('{"alerts": "nope"}')
    rejected = run_cli(config, "--source", "alertmanager", str(broken), "--json")
    assert rejected.returncode == 1
    assert json.loads(rejected.stdout)["error"].startswith("payload rejected")
