"""`firebell simulate` lists the playbooks matching the payload's incident and, with
--dry-run-playbooks, what each would send: nothing sent, nothing written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from bot.cli.simulate import run_simulation
from bot.config import load_config
from tests.playbooks.surface_support import (
    API_5XX,
    DB_ONLY,
    LOKI_ONLY,
    FarSides,
    far_sides,
    write_playbooks,
)
from tests.support.paging import am_payload
from tests.support.paths import REPO
from tests.support.simulate import BEFORE_HANDOFF, row_counts, seed

ON_OPEN = """\
id: on-open
match: ['service="api"']
run: on_open
steps:
  - id: loki
    uses: logs.loki
    with: {connection: loki, selector: {app: "{{ incident.labels.service }}"}}
"""
PAYLOAD = am_payload("HighErrorRate", severity="critical", service="api")


def write_config(tmp_path: Path, database_url: str, sides: FarSides) -> Path:
    write_playbooks(tmp_path / "playbooks", API_5XX, LOKI_ONLY, DB_ONLY, ON_OPEN)
    path = tmp_path / "firebell.yaml"
    data = {
        "database_url": database_url,
        "playbooks": "./playbooks",
        "connections": sides.connections(),
    }
    path.write_text(yaml.safe_dump(data))
    return path


def test_matching_playbooks_and_their_dry_runs(database_url: str, tmp_path: Path) -> None:
    with far_sides() as sides:
        settings = load_config(write_config(tmp_path, database_url, sides), {})
        before = row_counts(database_url)
        sim = run_simulation(
            settings, "alertmanager", PAYLOAD, {}, BEFORE_HANDOFF, dry_run_playbooks=True
        )
        assert sim.error is None
        found = {report.playbook: report for report in sim.playbooks}
        assert sorted(found) == ["api-5xx", "loki-only", "on-open"]  # not db-only
        assert {report.incident for report in sim.playbooks} == {"a new incident"}
        assert found["on-open"].starts.startswith("starts now")
        assert found["api-5xx"].starts.startswith("manual")
        api = found["api-5xx"]
        assert api.params == {"window": "30m"}
        assert api.steps is not None
        steps = {step["id"]: step for step in api.steps}
        assert steps["loki"]["request"]["url"].startswith(sides.loki.base_url)
        assert steps["sentry"]["if"] is False
        assert sides.requests() == 0
        assert row_counts(database_url) == before  # no run, no timeline entry

        # Once the incident is open, a repeat joins it: on_open playbooks do not start.
        seed(settings, PAYLOAD, BEFORE_HANDOFF)
        again = run_simulation(settings, "alertmanager", PAYLOAD, {}, BEFORE_HANDOFF)
        opener = next(r for r in again.playbooks if r.playbook == "on-open")
        assert opener.incident.startswith("incident #")
        assert opener.starts.startswith("does not start")
        assert opener.steps is None  # listed only, without --dry-run-playbooks


def test_cli_prints_what_each_playbook_would_send(database_url: str, tmp_path: Path) -> None:
    with far_sides() as sides:
        config = write_config(tmp_path, database_url, sides)
        payload = tmp_path / "alert.json"
        payload.write_bytes(PAYLOAD)
        base = [sys.executable, "-m", "bot.cli", "simulate", "--config", str(config)]
        args = ["--source", "alertmanager", str(payload), "--dry-run-playbooks"]
        done = subprocess.run(
            [*base, *args], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stderr
        out = done.stdout
        assert "== playbooks" in out
        assert "api-5xx              on a new incident: manual" in out
        assert f"GET {sides.loki.base_url}/loki/api/v1/query_range?" in out
        assert "Authorization: ***" in out and "loki-token" not in out
        as_json = subprocess.run(
            [*base, *args, "--json"], cwd=REPO, capture_output=True, text=True, timeout=60
        )
        playbooks = json.loads(as_json.stdout)["playbooks"]
        assert [p["playbook"] for p in playbooks] == ["api-5xx", "loki-only", "on-open"]
        assert sides.requests() == 0
