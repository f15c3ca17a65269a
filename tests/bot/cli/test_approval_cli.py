"""`firebell playbook approve RUN` and `reject` on SQLite and PostgreSQL: as the --as
user, checked by the service like every surface (the requester is refused naming who
may), idempotent, recorded on the timeline with surface cli."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import update

from bot.cli.main import main
from playbooks import run_store
from routing.storage.timeline import TIMELINE
from tests.bot.cli.test_playbook_cli import database, open_incident
from tests.playbooks.approval_support import REQUEST_HASH, approval_settings, end_expired


def awaiting_run(config: Path) -> int:
    """A run of `deploy` by alice whose step waits for approval (as the runner leaves it)."""
    incident_id = open_incident(config)
    now = datetime.now(UTC)
    with database(config) as (settings, engine), engine.begin() as conn:
        run_id = run_store.create_run(
            conn, incident_id=incident_id, playbook=settings.catalog.playbooks["deploy"],
            params={"ref": "main"}, started_by="alice", trigger="manual", now=now,
        )  # fmt: skip
        assert run_id is not None
        conn.execute(
            update(run_store.STEP)
            .where(run_store.STEP.c.run_id == run_id)
            .values(
                status="awaiting_approval",
                request_hash=REQUEST_HASH,
                approval_expires_at=now + timedelta(minutes=45),
            )
        )
    return run_id


def test_approve_and_reject_from_the_cli(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "firebell.yaml"
    data = approval_settings(database_url, tmp_path / "playbooks")
    data["playbooks"] = "./playbooks"
    config.write_text(yaml.safe_dump(data))
    run_id = awaiting_run(config)

    def cli(*args: str) -> tuple[int, str, str]:
        code = main(["playbook", *args, "--config", str(config)])
        out, err = capsys.readouterr()
        return code, out, err

    code, _out, err = cli("approve", str(run_id), "--as", "alice")
    assert code == 1
    assert err.startswith("firebell: alice started this run and cannot decide its approval")
    assert "who may: team:backend (bob, carol), oncall:primary (now: " in err

    code, out, _err = cli("approve", str(run_id), "--as", "bob", "--comment", "repro is green")
    assert (code, out) == (0, f"step hotfix of run {run_id}: approved by bob (1 of 2 approvals)\n")
    code, out, _err = cli("approve", str(run_id), "--as", "bob", "--step", "hotfix")
    assert code == 0 and "already approved by you" in out

    code, out, _err = cli("reject", str(run_id), "--as", "carol", "--json")
    assert code == 0
    result = json.loads(out)
    assert (result["decision"], result["approver"], result["outcome"]) == (
        "rejected", "carol", "rejected"
    )  # fmt: skip

    code, _out, err = cli("approve", str(run_id), "--as", "nobody")
    assert code != 0 and "unknown user 'nobody'" in err

    with database(config) as (_settings, engine), engine.connect() as conn:
        rows = conn.execute(
            TIMELINE.select().where(TIMELINE.c.kind == "playbook_approval").order_by(TIMELINE.c.id)
        ).mappings()
        entries = [(r["actor"], r["data"]["decision"], r["data"]["surface"]) for r in rows]
    assert entries == [("bob", "approved", "cli"), ("carol", "rejected", "cli")]


def test_request_again_from_the_cli(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "firebell.yaml"
    data = approval_settings(database_url, tmp_path / "playbooks")
    data["playbooks"] = "./playbooks"
    config.write_text(yaml.safe_dump(data))
    run_id = awaiting_run(config)

    def cli(*args: str) -> tuple[int, str, str]:
        code = main(["playbook", *args, "--config", str(config)])
        out, err = capsys.readouterr()
        return code, out, err

    code, _out, err = cli("request-again", str(run_id), "--as", "bob")
    assert (code, err) == (
        1,
        f"firebell: playbook run {run_id} has no expired approval to ask again\n",
    )

    with database(config) as (_settings, engine):
        end_expired(engine, run_id)
    code, out, _err = cli("request-again", str(run_id), "--as", "bob", "--json")
    assert code == 0
    again = json.loads(out)
    assert again["id"] != run_id and again["started_by"] == "bob"
    assert (again["playbook"], again["params"], again["status"]) == (
        "deploy",
        {"ref": "main"},
        "running",
    )

    # Asked once: a second request shows the run the first one started.
    code, out, _err = cli("request-again", str(run_id), "--as", "carol")
    assert code == 0
    assert out.startswith(f"run #{again['id']}  deploy on incident #")
    assert out.endswith(f"run {run_id} asked again already by bob\n")
