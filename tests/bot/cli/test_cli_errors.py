"""Bad files and instants on the command line: one line on stderr, exit 2, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.paths import REPO

EXPECTED_ISO = "(expected ISO 8601, e.g. 2026-11-24T10:00:00Z)"


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "FIREBELL_CONFIG"}
    env["PYTHONPATH"] = str(REPO)
    return env


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "firebell.yaml"
    path.write_text(f"database_url: sqlite:///{tmp_path}/cli.db\n")
    return path


def assert_one_line_error(done: subprocess.CompletedProcess[str], message: str) -> None:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert message in done.stderr
    # argparse errors add a usage line before the message; nothing comes after it.
    assert done.stderr.rstrip("\n").splitlines()[-1].endswith(message)
    assert done.stdout == ""


def test_simulate_missing_payload_file(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    done = run_cli(
        tmp_path, "simulate", "--config", str(config), "--source", "alertmanager", "nope.json"
    )
    assert_one_line_error(done, "firebell: nope.json: no such file or directory")
    assert len(done.stderr.splitlines()) == 1


def test_simulate_bad_at(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    payload = tmp_path / "p.json"
    payload.write_text("{}")
    done = run_cli(
        tmp_path,
        "simulate",
        "--config",
        str(config),
        "--source",
        "alertmanager",
        str(payload),
        "--at",
        "yesterday",
    )
    assert_one_line_error(done, f"argument --at: invalid instant 'yesterday' {EXPECTED_ISO}")


def test_oncall_bad_at(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    done = run_cli(tmp_path, "oncall", "--config", str(config), "--at", "2026-13-45")
    assert_one_line_error(done, f"argument --at: invalid instant '2026-13-45' {EXPECTED_ISO}")


def test_missing_config_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    done = run_cli(tmp_path, "oncall", "--config", str(missing))
    assert_one_line_error(done, f"firebell: config {missing}: no such file or directory")
    assert len(done.stderr.splitlines()) == 1
