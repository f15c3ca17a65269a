"""`firebell incident ...`: the command layer from the shell (added by add_chat_cli)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bot.cli.chat_commands import add_chat_cli


def run_cli(tmp_path: Path, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="firebell")
    add_chat_cli(parser.add_subparsers(dest="command", required=True))
    config = tmp_path / "firebell.yaml"
    if not config.exists():
        config.write_text(
            f"database_url: sqlite:///{tmp_path}/cli.db\n"
            "users:\n  - name: alice\n    contacts: ['json://127.0.0.1:9/a']\n    role: admin\n"
            "  - {name: bob}\n  - {name: carol, role: viewer}\n"
        )
    args = parser.parse_args(["incident", "--config", str(config), *argv])
    result: int = args.func(args)
    return result


def test_incident_commands_from_the_shell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without --as the CLI acts as the user named like the OS login (getpass reads LOGNAME).
    monkeypatch.setenv("LOGNAME", "bob")
    assert run_cli(tmp_path, "list") == 0
    assert capsys.readouterr().out == "No open incidents.\n"

    assert run_cli(tmp_path, "--as", "alice", "page", "alice", "db", "is", "down") == 0
    out = capsys.readouterr().out
    assert out.startswith("alice paged user:alice (alice): db is down · incident #1")

    assert run_cli(tmp_path, "note", "1", "from the shell") == 0
    assert capsys.readouterr().out.startswith("Incident #1 note by bob: from the shell")
    assert run_cli(tmp_path, "silence", 'service=api,alertname=~"High .*"', "2h", "deploy") == 0
    assert 'silenced service="api",alertname=~"High .*" for 2h' in capsys.readouterr().out

    assert run_cli(tmp_path, "show", "1") == 0
    shown = capsys.readouterr().out
    assert "Incident #1: db is down" in shown and "bob: from the shell" in shown

    assert run_cli(tmp_path, "ack") == 2
    assert capsys.readouterr().err == (
        "firebell: ack needs an incident id: firebell incident ack 42\n"
    )
    assert run_cli(tmp_path, "show", "9") == 1
    assert capsys.readouterr().err == "no incident #9 (see firebell incident list all)\n"
    assert run_cli(tmp_path, "--as", "zed", "list") == 2
    assert "unknown user 'zed' (known: alice, bob, carol)" in capsys.readouterr().err


def test_the_cli_acts_with_the_role_of_its_user(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOGNAME", "nobody-configured")
    assert run_cli(tmp_path, "--as", "alice", "page", "alice", "db", "is", "down") == 0
    capsys.readouterr()
    # No --as and a login that names no user: reading works, writing is refused.
    assert run_cli(tmp_path, "show", "1") == 0
    assert run_cli(tmp_path, "ack", "1") == 1
    assert capsys.readouterr().err.startswith(
        "ack changes incidents, so it runs as a firebell user: pass --as NAME "
        "(known: alice, bob, carol)"
    )
    assert run_cli(tmp_path, "--as", "carol", "ack", "1") == 1
    assert capsys.readouterr().err.startswith("ack needs the responder role; carol is a viewer")
    assert run_cli(tmp_path, "--as", "bob", "page", "alice", "again") == 1
    assert capsys.readouterr().err.startswith("page needs the admin role; bob is a responder")
    # --as after the command's words is the flag, not note text.
    assert run_cli(tmp_path, "note", "1", "checked", "--as", "bob") == 0
    assert capsys.readouterr().out.startswith("Incident #1 note by bob: checked ·")
    assert run_cli(tmp_path, "ack", "1", "--as=bob") == 0
    assert capsys.readouterr().out.startswith("Incident #1 acknowledged by bob")
    assert run_cli(tmp_path, "resolve", "1", "--as") == 2
    assert capsys.readouterr().err == "firebell: --as needs a value\n"
