"""REST /api/v1/playbook-runs and /api/v1/playbooks on SQLite and PostgreSQL: runs start
as the caller, refusals name the field, a dry-run sends nothing, runs and outputs read."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import select

from routing.storage.timeline import TIMELINE
from tests.playbooks.surface_support import API_5XX, DB_ONLY, far_sides, write_playbooks
from tests.support.chat_harness import ChatWorld, settings_data
from tests.support.paging import am_payload
from tests.support.server_process import ServerProcess
from tests.support.waiting import wait_for

ALICE = {"Authorization": "Bearer alice-token-0123"}
VIEWER = {"Authorization": "Bearer viewer-token-0123"}


def config(database_url: str, folder: Path, connections: dict[str, Any]) -> dict[str, Any]:
    return settings_data(
        database_url,
        api_tokens=[
            {"token": "alice-token-0123", "user": "alice"},
            {"token": "viewer-token-0123", "name": "dashboard", "role": "viewer"},
        ],
        playbooks=str(folder),
        connections=connections,
    )


# A read that fails and waits an hour for its retry: the run stays running (the
# harness's clock stands still), so it can be cancelled.
STUCK = """\
id: stuck
match: ['service="api"']
steps:
  - id: flaky
    uses: logs.loki
    with: {connection: broken, selector: {app: api}}
    retry: {attempts: 3, backoff: 1h}
  - {id: report, uses: chat.post, always: true, with: {text: "done"}}
"""


async def finished(http: httpx.AsyncClient, run_id: int, timeout: float = 15.0) -> dict[str, Any]:
    """The run once the worker of the app under test has finished it."""
    for _ in range(int(timeout / 0.05)):
        run: dict[str, Any] = (
            await http.get(f"/api/v1/playbook-runs/{run_id}", headers=VIEWER)
        ).json()
        if run["status"] != "running":
            return run
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish: {run}")


async def stuck_in_retry(http: httpx.AsyncClient, run_id: int) -> None:
    for _ in range(300):
        run = (await http.get(f"/api/v1/playbook-runs/{run_id}", headers=VIEWER)).json()
        if run["steps"][0]["attempt"] == 1 and run["steps"][0]["status"] == "pending":
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} never waited for its retry")


def test_runs_start_as_the_caller_and_refusals_name_the_field(
    database_url: str, tmp_path: Path
) -> None:
    async def go() -> None:
        with far_sides() as sides:
            folder = write_playbooks(tmp_path / "pb", API_5XX, DB_ONLY, STUCK)
            connections = sides.with_broken()
            async with ChatWorld.open(config(database_url, folder, connections)) as world:
                http = world.http
                incident_id = await world.incident()
                body = {"incident_id": incident_id, "playbook": "api-5xx"}
                path = "/api/v1/playbook-runs"
                assert (await http.post(path, json=body)).status_code == 401
                denied = await http.post(path, json=body, headers=VIEWER)
                assert denied.status_code == 403
                assert "running playbooks needs the responder role" in denied.json()["detail"]

                async def problem(extra: dict[str, Any], status: int, field: str) -> str:
                    answer = await http.post(path, json={**body, **extra}, headers=ALICE)
                    assert answer.status_code == status, answer.text
                    assert answer.headers["content-type"] == "application/problem+json"
                    assert answer.json()["field"] == field
                    return str(answer.json()["detail"])

                await problem({"actor": "mallory"}, 422, "body.actor")
                await problem({"started_by": "mallory"}, 422, "body.started_by")
                assert "not found" in await problem({"incident_id": 9999}, 404, "body.incident_id")
                assert "unknown playbook" in await problem({"playbook": "x"}, 404, "body.playbook")
                text = await problem({"playbook": "db-only"}, 409, "body.playbook")
                assert 'service="db"' in text
                assert "6h" in await problem(
                    {"params": {"window": "7h"}}, 422, "body.params.window"
                )
                await problem({"with_reads": True}, 422, "body.with_reads")

                started = await http.post(
                    path, json={**body, "params": {"window": "1h"}}, headers=ALICE
                )
                assert started.status_code == 201, started.text
                run = started.json()
                assert (run["started_by"], run["status"], run["params"]) == (
                    "alice", "running", {"window": "1h"},
                )  # fmt: skip
                assert isinstance(run["created_at"], str)

                # The app's own worker runs it: Loki answers, the log file is not there.
                shown = await finished(http, run["id"])
                steps = {s["step_id"]: s for s in shown["steps"]}
                assert steps["loki"]["status"] == "succeeded"
                assert "error: boom" in steps["loki"]["output"]["text"]
                assert steps["loki"]["request"]["headers"]["Authorization"] == "***"
                assert steps["file"]["status"] == "failed" and steps["file"]["output"] is None
                assert len(sides.loki.requests) == 1
                listed = await http.get(path, params={"incident_id": incident_id}, headers=VIEWER)
                assert [r["id"] for r in listed.json()["items"]] == [run["id"]]
                other = await http.get(path, params={"incident_id": 9999}, headers=VIEWER)
                assert other.json() == {"items": []}
                output = await http.get(f"{path}/{run['id']}/steps/loki/output", headers=VIEWER)
                assert output.status_code == 200
                assert (output.json()["line_count"], output.json()["cut_lines"]) == (1, 0)
                assert "error: boom" in output.json()["text"]
                missing = await http.get(f"{path}/{run['id']}/steps/nope/output", headers=VIEWER)
                assert (missing.status_code, missing.json()["field"]) == (404, "path.step_id")
                gone = await http.get(f"{path}/424242", headers=VIEWER)
                assert (gone.status_code, gone.json()["field"]) == (404, "path.run_id")

                done = await http.post(f"{path}/{run['id']}/cancel", headers=ALICE)
                assert (done.status_code, done.json()["field"]) == (409, "path.run_id")
                stuck = await http.post(path, json={**body, "playbook": "stuck"}, headers=ALICE)
                await stuck_in_retry(http, stuck.json()["id"])
                cancel_path = f"{path}/{stuck.json()['id']}/cancel"
                assert (await http.post(cancel_path, headers=VIEWER)).status_code == 403
                cancel = await http.post(cancel_path, headers=ALICE)
                assert cancel.status_code == 200
                assert cancel.json()["cancel_requested_by"] == "alice"
                ended = await finished(http, stuck.json()["id"])
                assert ended["status"] == "cancelled"
                assert (await http.post(f"{path}/424242/cancel", headers=ALICE)).status_code == 404

    asyncio.run(go())


def test_a_dry_run_answers_200_sends_nothing_and_is_on_the_timeline(
    database_url: str, tmp_path: Path
) -> None:
    async def go() -> None:
        with far_sides() as sides:
            data = config(database_url, write_playbooks(tmp_path / "pb"), sides.connections())
            async with ChatWorld.open(data) as world:
                incident_id = await world.incident()
                answer = await world.http.post(
                    "/api/v1/playbook-runs",
                    json={"incident_id": incident_id, "playbook": "api-5xx", "dry_run": True},
                    headers=ALICE,
                )
                assert answer.status_code == 200, answer.text
                result = answer.json()
                assert result["sent"] == 0
                loki = result["steps"][0]
                assert loki["request"]["method"] == "GET"
                assert loki["request"]["headers"]["Authorization"] == "***"
                assert "loki-token" not in answer.text
                assert sides.requests() == 0
                with world.rt.engine.connect() as conn:
                    actors = conn.execute(
                        select(TIMELINE.c.actor).where(TIMELINE.c.kind == "playbook_dry_run")
                    ).scalars()
                    assert list(actors) == ["alice"]
                runs = await world.http.get("/api/v1/playbook-runs", headers=ALICE)
                assert runs.json() == {"items": []}  # a dry-run starts nothing

    asyncio.run(go())


def test_playbooks_are_listed_and_shown(database_url: str, tmp_path: Path) -> None:
    async def go() -> None:
        with far_sides() as sides:
            data = config(database_url, write_playbooks(tmp_path / "pb"), sides.connections())
            async with ChatWorld.open(data) as world:
                http = world.http
                items = (await http.get("/api/v1/playbooks", headers=VIEWER)).json()["items"]
                assert [p["id"] for p in items] == ["api-5xx", "db-only", "loki-only"]
                first = items[0]
                assert (first["run"], first["match"]) == (
                    "manual", ['service="api"', 'severity=~"critical|error"'],
                )  # fmt: skip
                assert first["params"]["window"] == {"type": "duration", "description": "",
                                                     "default": "30m", "max": "6h"}  # fmt: skip
                assert [s["uses"] for s in first["steps"]][:2] == [
                    "logs.loki",
                    "logs.elasticsearch",
                ]
                shown = (await http.get("/api/v1/playbooks/api-5xx", headers=VIEWER)).json()
                assert shown["steps"][4]["if"] == "incident.labels.sentry_issue_id is defined"
                assert shown["steps"][0]["with"]["connection"] == "loki"
                assert sides.loki.base_url not in str(shown)  # connections stay in the config
                unknown = await http.get("/api/v1/playbooks/nope", headers=VIEWER)
                assert (unknown.status_code, unknown.json()["field"]) == (404, "path.playbook_id")
                schema = (await http.get("/openapi.json")).json()
                assert {"/api/v1/playbook-runs", "/api/v1/playbooks/{playbook_id}"} <= set(
                    schema["paths"]
                )

    asyncio.run(go())


def test_a_real_server_dry_runs_without_a_single_request(database_url: str, tmp_path: Path) -> None:
    """End to end: `firebell serve`, an Alertmanager payload opens the incident, a dry-run
    over HTTP sends nothing to any log store; the run itself then reads Loki."""
    with far_sides() as sides:
        data = config(database_url, write_playbooks(tmp_path / "pb"), sides.connections())
        proc = ServerProcess(tmp_path, yaml.safe_dump(data))
        if not database_url.startswith("sqlite"):
            assert proc.cli("db", "upgrade").returncode == 0
        with proc, httpx.Client(base_url=proc.base_url, headers=ALICE, timeout=10) as http:
            payload = am_payload("HighErrorRate", severity="critical", service="api")
            sent = http.post(
                "/webhooks/alertmanager",
                content=payload,
                headers={"Content-Type": "application/json"},
            )
            assert sent.status_code == 202, sent.text
            incidents: list[dict[str, Any]] = []

            def opened() -> bool:
                incidents[:] = http.get("/api/v1/incidents").json()["items"]
                return bool(incidents)

            wait_for("the incident", opened)
            body = {"incident_id": incidents[0]["id"], "playbook": "api-5xx"}
            dry = http.post("/api/v1/playbook-runs", json={**body, "dry_run": True})
            assert dry.status_code == 200, dry.text
            assert dry.json()["sent"] == 0
            assert dry.json()["steps"][0]["request"]["url"].startswith(sides.loki.base_url)
            assert sides.requests() == 0  # not one request reached a log store

            run = http.post("/api/v1/playbook-runs", json=body).json()
            path = f"/api/v1/playbook-runs/{run['id']}"
            wait_for("the run", lambda: http.get(path).json()["status"] != "running")
            loki = http.get(path).json()["steps"][0]
            assert loki["status"] == "succeeded" and "error: boom" in loki["excerpt"]
            assert len(sides.loki.requests) == 1
