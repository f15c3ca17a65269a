"""GET /api/v1/reports and /api/v1/incidents/{id}/postmortem on SQLite and PostgreSQL,
through the app with incidents made by the intake writer: reading needs a token, bad
periods and formats are 422 naming the field, unknown incidents 404; the postmortem is
Markdown (a download) or JSON, never shows a contact URL, and lists a real playbook run
with the approvals two people gave through the API."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert

from playbooks import run_store
from routing.paging.outbox import NOTIFICATION
from tests.playbooks.approval_support import TOKENS, approval_world
from tests.support.chat_harness import NOW, ChatWorld, alert, settings_data

ALICE = {"Authorization": "Bearer alice-token-0123"}
VIEWER = {"Authorization": "Bearer viewer-token-0123"}
CONTACT_SECRET = "s3cretpass-contact"


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


def config(database_url: str) -> dict[str, Any]:
    return settings_data(
        database_url,
        api_tokens=[
            {"token": "alice-token-0123", "user": "alice"},
            {"token": "viewer-token-0123", "name": "dashboard", "role": "viewer"},
        ],
    )


async def problem(http: httpx.AsyncClient, url: str) -> tuple[int, str]:
    answer = await http.get(url, headers=VIEWER)
    assert answer.headers["content-type"] == "application/problem+json", answer.text
    return answer.status_code, answer.json().get("field", "")


def test_the_report_needs_a_token_and_names_bad_fields(database_url: str) -> None:
    clock = Clock()

    async def go() -> None:
        async with ChatWorld.open(config(database_url), clock=clock) as world:
            http = world.http
            first = await world.incident("Errors")
            await world.incident("Latency", service="db")
            clock.now = NOW + timedelta(minutes=4)
            assert (await http.post(f"/api/v1/incidents/{first}/ack", headers=ALICE)).is_success
            clock.now = NOW + timedelta(hours=1)
            assert (await http.post(f"/api/v1/incidents/{first}/resolve", headers=ALICE)).is_success
            clock.now = NOW + timedelta(days=1)

            assert (await http.get("/api/v1/reports")).status_code == 401
            answer = await http.get("/api/v1/reports", headers=VIEWER)
            assert answer.status_code == 200, answer.text
            report = answer.json()
            assert report["period"]["from"] == (NOW - timedelta(days=6)).isoformat()
            assert (report["totals"]["opened"], report["totals"]["open"]) == (2, 1)
            assert report["overall"]["mtta"] == {"count": 1, "median_s": 240.0, "p90_s": 240.0}
            assert report["overall"]["mttr"]["median_s"] == 3600.0
            assert [s["service"] for s in report["by_service"]] == ["api", "db"]
            assert report["per_day"][-2:] == [
                {"day": "2026-03-02", "incidents": 2}, {"day": "2026-03-03", "incidents": 0}
            ]  # fmt: skip

            later = await http.get(
                "/api/v1/reports?from=2026-03-02T12:00:00&to=2026-03-03", headers=VIEWER
            )
            assert later.json()["totals"]["opened"] == 0

            for url, field in [
                ("/api/v1/reports?days=0", "query.days"),
                ("/api/v1/reports?days=367", "query.days"),
                ("/api/v1/reports?days=x", "query.days"),
                ("/api/v1/reports?days=3&from=2026-03-01", "query.days"),
                ("/api/v1/reports?from=2026-03-02&to=2026-03-01", "query.from"),
                ("/api/v1/reports?from=2024-01-01&to=2026-03-01", "query.from"),
                ("/api/v1/reports?from=yesterday", "query.from"),
                ("/api/v1/reports?to=0001-01-01T00:00:00", "query.to"),
                ("/api/v1/reports?top=51", "query.top"),
            ]:
                assert await problem(http, url) == (422, field), url

    asyncio.run(go())


def test_the_postmortem_as_markdown_and_json(database_url: str) -> None:
    clock = Clock()

    async def go() -> None:
        async with ChatWorld.open(config(database_url), clock=clock) as world:
            http = world.http
            (incident_id,) = await world.submit(alert("Errors | #1\n# injected"))
            assert incident_id is not None
            with world.rt.engine.begin() as conn:
                conn.execute(
                    insert(NOTIFICATION).values(
                        incident_id=incident_id, dedup_key="page:x", kind="page",
                        address=f"json://hook:{CONTACT_SECRET}@127.0.0.1:9/alice",
                        recipient="alice", via="schedule:primary", step="step 1 of 1",
                        status="sent", created_at=NOW, first_due_at=NOW,
                        next_attempt_at=NOW, sent_at=NOW,
                    )
                )  # fmt: skip
            clock.now = NOW + timedelta(minutes=3)
            await http.post(
                f"/api/v1/incidents/{incident_id}/ack", headers=ALICE, json={"note": "on it"}
            )
            url = f"/api/v1/incidents/{incident_id}/postmortem"

            assert (await http.get(url)).status_code == 401
            md = await http.get(url, headers=VIEWER)
            assert md.status_code == 200
            assert md.headers["content-type"] == "text/markdown; charset=utf-8"
            assert md.headers["content-disposition"] == (
                f'attachment; filename="incident-{incident_id}-postmortem.md"'
            )
            text = md.text
            assert text.startswith(f"# Postmortem: incident \\#{incident_id}: Errors \\| \\#1 \\# ")
            assert "\n# injected" not in text
            assert "| alice | schedule:primary | step 1 of 1 | sent |" in text
            assert "- **alice**: 1 action (acknowledged)" in text
            assert "- **Time to acknowledge (MTTA):** 3m by alice" in text
            assert "\n## Causes\n" in text and "\n## Actions\n" in text
            assert CONTACT_SECRET not in text and "json://" not in text

            doc = (await http.get(url + "?format=json", headers=VIEWER)).json()
            assert (doc["incident"]["id"], doc["figures"]["tta_s"]) == (incident_id, 180.0)
            assert doc["paged"][0]["recipient"] == "alice"
            assert CONTACT_SECRET not in str(doc)

            assert await problem(http, url + "?format=pdf") == (422, "query.format")
            assert (await problem(http, "/api/v1/incidents/999/postmortem"))[0] == 404
            assert await problem(http, "/api/v1/incidents/0/postmortem") == (
                422, "path.incident_id"
            )  # fmt: skip

    asyncio.run(go())


async def step_status(http: httpx.AsyncClient, run_id: int, wanted: set[str]) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {TOKENS['alice']}"}
    for _ in range(500):
        run: dict[str, Any] = (
            await http.get(f"/api/v1/playbook-runs/{run_id}", headers=headers)
        ).json()
        if run["steps"][0]["status"] in wanted:
            return run
        await asyncio.sleep(0.02)
    raise AssertionError(f"run {run_id} never reached {wanted}")


def test_a_real_run_and_its_approvals_are_in_the_postmortem(
    database_url: str, tmp_path: Path
) -> None:
    async def go() -> None:
        async with approval_world(database_url, tmp_path) as w:
            w.service.wake = w.chat.rt.extras["playbook_wake"]  # the app's real worker
            http = w.chat.http
            incident_id = await w.chat.incident()

            def as_(name: str) -> dict[str, str]:
                return {"Authorization": f"Bearer {TOKENS[name]}"}

            started = await http.post(
                "/api/v1/playbook-runs",
                headers=as_("alice"),
                json={"incident_id": incident_id, "playbook": "deploy", "params": {"ref": "v9"}},
            )
            assert started.status_code == 201, started.text
            run_id = started.json()["id"]
            await step_status(http, run_id, {"awaiting_approval"})
            for name in ("bob", "carol"):
                decided = await http.post(
                    f"/api/v1/playbook-runs/{run_id}/approve",
                    headers=as_(name),
                    json={"comment": f"ok from {name} | ship it"},
                )
                assert decided.status_code == 200, decided.text
            run = await step_status(http, run_id, {"succeeded", "failed"})
            with w.chat.rt.engine.connect() as conn:
                stored = run_store.get_run(conn, run_id)
            assert stored is not None

            url = f"/api/v1/incidents/{incident_id}/postmortem"
            doc = (await http.get(url + "?format=json", headers=as_("erin"))).json()
            (shown,) = doc["playbook_runs"]
            assert (shown["id"], shown["playbook"], shown["started_by"]) == (
                run_id, "deploy", "alice"
            )  # fmt: skip
            assert shown["status"] == stored["status"]
            assert [(s["step_id"], s["status"]) for s in shown["steps"]] == [
                ("hotfix", run["steps"][0]["status"])
            ]
            assert [(a["approver"], a["decision"], a["surface"]) for a in shown["approvals"]] == [
                ("bob", "approved", "api"), ("carol", "approved", "api")
            ]  # fmt: skip
            acted = {p["person"]: {a["kind"] for a in p["actions"]} for p in doc["acted"]}
            assert acted["alice"] >= {"playbook_started"}
            assert acted["bob"] == {"playbook_approval"} == acted["carol"]

            text = (await http.get(url, headers=as_("erin"))).text
            assert f"### Run {run_id}: deploy ({stored['status']})" in text
            assert "| hotfix | approved | bob | api |" in text
            assert "| ok from carol \\| ship it |" in text

    asyncio.run(go())
