"""`firebell playbook ...` on SQLite and PostgreSQL: list, show, a dry-run that sends
nothing, runs as a firebell user (refused without one), --wait executing it here, logs,
runs and cancel."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, select

from bot.cli.main import main
from bot.config import Settings, load_config
from bot.runtime.state import ingest_policy
from routing.intake.ingest import ingest
from routing.intake.submission import Submission
from routing.storage.database import make_engine
from routing.storage.timeline import TIMELINE
from tests.playbooks.surface_support import FarSides, far_sides, write_playbooks
from tests.support.chat_harness import alert


def write_config(tmp_path: Path, database_url: str, sides: FarSides) -> Path:
    path = tmp_path / "firebell.yaml"
    data = {
        "database_url": database_url,
        "users": [
            {"name": "alice", "contacts": ["json://127.0.0.1:9/alice"]},
            {"name": "carol", "contacts": ["json://127.0.0.1:9/carol"], "role": "viewer"},
        ],
        "playbooks": "./playbooks",  # relative: read next to the config file
        "connections": sides.connections(),
    }
    path.write_text(yaml.safe_dump(data))
    write_playbooks(tmp_path / "playbooks")
    return path


@contextmanager
def database(config: Path) -> Iterator[tuple[Settings, Engine]]:
    """The config's settings and an engine on its database, disposed after."""
    settings = load_config(config, {})
    engine = make_engine(settings.database_url)
    try:
        yield settings, engine
    finally:
        engine.dispose()


def open_incident(config: Path, service: str = "api") -> int:
    with database(config) as (settings, engine), engine.begin() as conn:
        outcome = ingest(
            conn,
            [Submission("alertmanager", [alert(service=service)])],
            datetime.now(UTC),
            ingest_policy(settings),
        )
    incident_id = outcome.submissions[0].alerts[0].incident_id
    assert incident_id is not None
    return incident_id


def cli(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> tuple[int, str, str]:
    code = main(["playbook", *args, "--config", str(config)])
    out, err = capsys.readouterr()
    return code, out, err


def test_list_show_and_a_dry_run_that_sends_nothing(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with far_sides() as sides:
        config = write_config(tmp_path, database_url, sides)
        incident_id = open_incident(config)

        code, out, _ = cli(capsys, config, "list", "--json")
        assert code == 0
        assert [p["id"] for p in json.loads(out)["items"]] == ["api-5xx", "db-only", "loki-only"]
        code, out, _ = cli(capsys, config, "list")
        assert code == 0 and out.startswith("api-5xx") and "Recent API errors" in out
        code, out, _ = cli(capsys, config, "show", "api-5xx")
        assert code == 0
        assert "5. sentry       logs.sentry_event  (if incident.labels.sentry_issue_id" in out
        code, _, err = cli(capsys, config, "show", "nope")
        assert code == 1 and 'unknown playbook "nope"' in err

        run = ("run", str(incident_id), "api-5xx", "--dry-run", "--param", "window=1h")
        code, out, err = cli(capsys, config, *run, "--as", "alice")
        assert code == 0, err
        assert f"dry-run of api-5xx on incident #{incident_id} (window=1h)" in out
        assert f"GET {sides.loki.base_url}/loki/api/v1/query_range?" in out
        assert "Authorization: ***" in out
        assert "(would be skipped: its `if` is false for this incident)" in out
        assert "(nothing was sent)" in out
        assert sides.requests() == 0
        code, out, _ = cli(capsys, config, *run, "--as", "alice", "--json")
        assert code == 0 and json.loads(out)["sent"] == 0
        assert sides.requests() == 0

        with database(config) as (_settings, engine), engine.connect() as conn:
            actors = conn.execute(
                select(TIMELINE.c.actor).where(TIMELINE.c.kind == "playbook_dry_run")
            ).scalars()
            assert list(actors) == ["alice", "alice"]


def test_runs_need_a_responder_and_wait_executes_here(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with far_sides() as sides:
        config = write_config(tmp_path, database_url, sides)
        incident_id = open_incident(config)
        start = ("run", str(incident_id), "loki-only")

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("getpass.getuser", lambda: "nobody-here")
            code, _, err = cli(capsys, config, *start)
        assert code == 2 and "pass --as NAME (known: alice, carol)" in err
        code, _, err = cli(capsys, config, *start, "--as", "carol")
        assert code == 2 and "needs the responder role; carol is a viewer" in err
        code, _, err = cli(capsys, config, "run", str(incident_id), "db-only", "--as", "alice")
        assert code == 1 and 'it needs service="db"' in err
        code, _, err = cli(capsys, config, *start, "--param", "x", "--as", "alice")
        assert code == 2 and "expected NAME=VALUE" in err

        # Without --wait: rows only, and where they will run.
        code, out, err = cli(capsys, config, *start, "--as", "alice")
        assert code == 0, err
        assert "running" in out and "`firebell serve` or `firebell worker` executes it" in out
        waiting = _run_id(out)
        assert sides.requests() == 0

        # With --wait this process executes due runs: the waiting one and its own.
        code, out, err = cli(capsys, config, *start, "--as", "alice", "--wait", "--json")
        assert code == 0, err
        run: dict[str, Any] = json.loads(out)
        assert run["status"] == "failed"  # chat.post: no chat configured here
        steps = {s["step_id"]: s["status"] for s in run["steps"]}
        assert steps == {"loki": "succeeded", "again": "succeeded", "report": "failed"}
        assert len(sides.loki.requests) == 4  # two reads for each of the two runs

        code, out, _ = cli(capsys, config, "logs", str(run["id"]), "loki")
        assert code == 0
        assert out.startswith("== loki (logs.loki, succeeded): 1 lines")
        assert "error: boom" in out
        code, _, err = cli(capsys, config, "logs", str(run["id"]), "nope")
        assert code == 1 and 'has no step "nope"' in err
        code, out, _ = cli(capsys, config, "runs", "--incident", str(incident_id), "--json")
        listed = json.loads(out)["items"]
        assert [(r["id"], r["started_by"]) for r in listed] == [
            (run["id"], "alice"),
            (waiting, "alice"),
        ]

        code, _, err = cli(capsys, config, "cancel", str(waiting), "--as", "alice")
        assert code == 1 and "has already finished" in err


def test_cancel_a_run_nobody_executes(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with far_sides() as sides:
        config = write_config(tmp_path, database_url, sides)
        incident_id = open_incident(config)
        code, out, _ = cli(capsys, config, "run", str(incident_id), "loki-only", "--as", "alice")
        run_id = _run_id(out)
        code, out, err = cli(capsys, config, "cancel", str(run_id), "--as", "alice")
        assert code == 0, err
        assert "cancel requested by alice" in out
        code, _, err = cli(capsys, config, "cancel", "424242", "--as", "alice")
        assert code == 1 and "not found" in err


def _run_id(out: str) -> int:
    return int(out.split("run #", 1)[1].split()[0])
