"""CLI output: `--json` in the REST API's shapes for scripts, rich tables on a terminal,
the chat text when piped."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli.main import main
from tests.support.paths import REPO

CONFIG = """\
database_url: sqlite:///{db}
users:
  - {{name: alice, contacts: ['json://127.0.0.1:9/a'], role: admin}}
  - {{name: bob, contacts: ['json://127.0.0.1:9/b']}}
schedules:
  - name: primary
    time_zone: Europe/Berlin
    layers: [{{rotation: weekly, handoff: "mon 09:00", members: [alice, bob]}}]
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "firebell.yaml"
    path.write_text(CONFIG.format(db=tmp_path / "cli.db"))
    assert main(["db", "upgrade", "--config", str(path)]) == 0
    return path


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_json_answers_have_the_rest_api_shapes(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = ["--config", str(config), "--as", "alice"]
    assert main(["incident", *cfg, "page", "alice", "db", "is", "down"]) == 0
    capsys.readouterr()

    # --json after the words (argparse leaves it among them) and before them.
    listed = _json(capsys, "incident", *cfg, "list", "--json")
    assert isinstance(listed, dict) and listed["truncated"] is False
    (item,) = listed["items"]
    assert item["id"] == 1 and item["title"] == "db is down" and item["status"] == "triggered"
    assert {"why", "alert_count", "created_at", "acknowledged_by"} <= item.keys()

    shown = _json(capsys, "incident", "--json", *cfg, "show", "1")
    assert isinstance(shown, dict) and shown["id"] == 1
    assert [a["title"] for a in shown["alerts"]] == ["db is down"]
    assert shown["timeline"], "show --json carries the timeline"

    assert main(["incident", *cfg, "silence", "service=api", "2h", "deploy"]) == 0
    capsys.readouterr()
    silences = _json(capsys, "incident", *cfg, "silences", "--json")
    assert isinstance(silences, dict)
    (silence,) = silences["items"]
    assert silence["matchers"] == ['service="api"'] and silence["state"] == "active"
    assert silence["created_by"] == "alice" and silence["comment"] == "deploy"

    oncall = _json(capsys, "incident", *cfg, "oncall", "--json")
    assert isinstance(oncall, dict) and oncall["items"][0]["oncall"] in (["alice"], ["bob"])
    report = _json(capsys, "oncall", "--json", "--config", str(config), "--next", "1")
    assert isinstance(report, dict)
    assert report["items"][0]["schedule"] == "primary" and len(report["items"][0]["next"]) == 1


def test_json_errors_go_to_stderr_as_json(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["incident", "--config", str(config), "--as", "alice", "show", "9", "--json"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert json.loads(captured.err) == {"error": "no incident #9 (see firebell incident list all)"}


def test_options_after_the_words_are_options_not_words(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # argparse leaves everything after the command's first word among the words:
    # `--config`, `--as` and `--json` there must still act as the options they are.
    listed = _json(capsys, "incident", "list", "all", "--json", "--config", str(config))
    assert listed == {"items": [], "truncated": False}
    assert main(["incident", "note", "1", "x", f"--config={config}", "--as=bob"]) == 1
    assert "no incident #1" in capsys.readouterr().err  # ran as bob, on this config

    assert main(["incident", "list", "--config"]) == 2
    assert capsys.readouterr().err == "firebell: --config needs a value\n"


def _run_in_terminal(argv: list[str]) -> str:
    """Run the real `firebell` in a pseudo-terminal (what an operator's shell gives it)."""
    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": "160", "TERM": "xterm"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", *argv],
        stdin=follower, stdout=follower, stderr=follower, cwd=REPO, env=env,
    )  # fmt: skip
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 30)
        if not ready:
            proc.kill()
            raise AssertionError("firebell wrote nothing for 30 s")
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait(timeout=30) == 0
    return b"".join(chunks).decode()


@pytest.mark.slow
def test_a_terminal_gets_tables_and_a_pipe_gets_text(config: Path) -> None:
    cfg = ["--config", str(config), "--as", "alice"]
    assert main(["incident", *cfg, "page", "alice", "db", "is", "down"]) == 0

    shown = _run_in_terminal(["incident", *cfg, "list"])
    assert "Incidents" in shown and "severity" in shown and "│" in shown
    assert "db is down" in shown
    shown = _run_in_terminal(["oncall", "--config", str(config)])
    assert "on call now" in shown and "primary (Europe/Berlin)" in shown
    # No rows: the sentence, not an empty grid.
    shown = _run_in_terminal(["incident", *cfg, "list", "resolved"])
    assert "│" not in shown and "No resolved incidents." in shown

    piped = subprocess.run(
        [sys.executable, "-m", "bot.cli", "incident", *cfg, "list"],
        capture_output=True, text=True, cwd=REPO, check=True,
    )  # fmt: skip
    assert "│" not in piped.stdout
    assert piped.stdout.startswith("Open incidents:\n#1 ")
