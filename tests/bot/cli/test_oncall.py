"""`GET /api/v1/oncall` and `firebell oncall` over the issue's example schedule."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from bot.config import load_config
from bot.roles import create_app
from tests.support.paths import POLICY_EXAMPLE

EXAMPLE = POLICY_EXAMPLE


def settings_file(tmp_path: Path) -> Path:
    path = tmp_path / "firebell.yaml"
    path.write_text(f"database_url: sqlite:///{tmp_path}/oncall.db\n" + EXAMPLE.read_text())
    return path


def test_oncall_api_reports_overrides_and_handoffs(tmp_path: Path) -> None:
    settings = load_config(settings_file(tmp_path), {})
    with TestClient(create_app(settings)) as client:
        christmas = client.get(
            "/api/v1/oncall", params={"schedule": "backend-primary", "at": "2026-12-25T12:00:00Z"}
        )
        assert christmas.status_code == 200
        (item,) = christmas.json()["items"]
        assert item["oncall"] == ["carol"]  # the override beats every layer
        assert item["time_zone"] == "Europe/Madrid"
        # The override ends Saturday 2026-12-26 09:00 Madrid, where carol's weekend layer
        # (09:00-21:00) takes over: no change until 21:00, then the weekly layer's person
        # (155 weeks after the 2024-01-01 rotation start: bob).
        assert item["next"][0] == {
            "at": "2026-12-26T20:00:00+00:00",
            "at_local": "2026-12-26T21:00:00+01:00",
            "user": "bob",
        }
        assert item["next"][1]["at_local"] == "2026-12-27T09:00:00+01:00"
        assert item["next"][1]["user"] == "carol"

        assert client.get("/api/v1/oncall", params={"schedule": "nope"}).status_code == 404
        assert client.get("/api/v1/oncall", params={"at": "yesterday"}).status_code == 422
        everyone = client.get("/api/v1/oncall").json()["items"]
        assert [i["schedule"] for i in everyone] == ["backend-primary"]


def test_oncall_cli_prints_who_and_next(tmp_path: Path) -> None:
    env = {**os.environ, "FIREBELL_CONFIG": str(settings_file(tmp_path))}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "oncall",
            "--at",
            "2026-12-25T12:00:00Z",
            "--next",
            "2",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "backend-primary (Europe/Madrid): carol on call" in result.stdout
    assert "from 2026-12-26T21:00:00+01:00: bob" in result.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "bot.cli", "oncall", "--schedule", "nope"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 2 and "nope" in missing.stderr
