"""Playbooks on the incident page, on SQLite and PostgreSQL: the matching playbooks with
their params, a dry-run that shows the requests and sends nothing, a run started as the
logged-in person, and Approve / Reject of a step awaiting approval (the requester is
refused with the service's reason) with a loopback CI webhook as the far side."""

from __future__ import annotations

import asyncio
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from routing.storage.timeline import TIMELINE
from tests.bot.http.test_playbooks_api import STUCK
from tests.bot.web.test_incident_page import (
    browser,
    page_config,
    page_world,
    section,
    webhook_incident,
)
from tests.playbooks.surface_support import API_5XX, DB_ONLY, LOKI_TOKEN, far_sides, write_playbooks
from tests.support.chat_harness import ChatWorld
from tests.support.loopback_ci import FakeWebhook

GUARDED = """\
id: guarded
description: A deploy hook that two eyes must see
match: ['service="api"']
steps:
  - id: deploy
    uses: ci.webhook
    with: {connection: deployhook, body: {incident: "{{ incident.id }}"}}
    approval: {approvers: ["team:ops"], required: 1, expires_in: 1h}
"""


async def stuck_in_retry(world: ChatWorld, run_id: int) -> None:
    service = world.rt.extras["playbook_service"]
    for _ in range(300):
        step = (await asyncio.to_thread(service.run, run_id))["steps"][0]
        if step["attempt"] == 1 and step["status"] == "pending":
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} never waited for its retry")


def actors(world: ChatWorld, kind: str) -> list[str]:
    with world.rt.engine.connect() as conn:
        rows = conn.execute(
            select(TIMELINE.c.actor).where(TIMELINE.c.kind == kind).order_by(TIMELINE.c.id)
        )
        return list(rows.scalars())


async def run_state(
    world: ChatWorld, run_id: int, want: str, timeout: float = 15.0, *, of_run: bool = False
) -> Any:
    """The run once its first step (or, `of_run`, the run itself) reaches `want`."""
    service = world.rt.extras["playbook_service"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = await asyncio.to_thread(service.run, run_id)
        if want == run["status"] or (not of_run and want == run["steps"][0]["status"]):
            return run
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} never reached {want}: {run}")


def test_dry_run_shows_requests_and_sends_nothing_and_run_starts_as_the_user(
    database_url: str, tmp_path: Path
) -> None:
    async def go() -> None:
        with far_sides() as sides:
            folder = write_playbooks(tmp_path / "pb", API_5XX, DB_ONLY, STUCK)
            connections = sides.with_broken()
            data = page_config(
                database_url, playbooks=str(folder), connections=connections, route={}
            )
            async with page_world(data) as world:
                incident_id = await webhook_incident(world)
                alice = await browser(world).login("alice")
                page = await alice.page(incident_id)
                playbooks = section(page.text, "playbooks")
                assert 'data-playbook="api-5xx"' in playbooks
                assert "db-only" not in playbooks  # does not match this incident
                assert 'name="param.window"' in playbooks and 'value="30m"' in playbooks
                assert "Dry-run api-5xx" in playbooks and "Run api-5xx" in playbooks
                assert LOKI_TOKEN not in page.text and sides.loki.base_url not in page.text

                path = f"/incidents/{incident_id}/playbooks/api-5xx"
                dry = await alice.post(path, {"mode": "dry-run", "param.window": "1h"})
                assert dry.status_code == 200, dry.text
                shown = section(dry.text, "playbooks")
                assert 'id="dry-run"' in shown and "nothing was sent" in shown
                assert "GET http://127.0.0.1:" in shown and "/loki/api/v1/query_range?" in shown
                assert "Authorization: ***" in shown
                assert "***" in shown and LOKI_TOKEN not in dry.text
                assert sides.requests() == 0
                assert actors(world, "playbook_dry_run") == ["alice"]

                bad = await alice.post(path, {"mode": "run", "param.window": "7h"})
                assert bad.status_code == 422 and "params.window" in bad.text
                other = await alice.post(f"/incidents/{incident_id}/playbooks/db-only", {})
                assert other.status_code == 409 and "service=&#34;db&#34;" in other.text

                started = await alice.post(path, {"mode": "run", "param.window": "1h"})
                assert started.status_code == 303, started.text
                runs = world.rt.extras["playbook_service"].runs(incident_id)
                assert [(r["started_by"], r["params"]) for r in runs] == [
                    ("alice", {"window": "1h"})
                ]
                # The app's worker runs it: Loki answers; the log file is not there.
                await run_state(world, runs[0]["id"], "failed", 20, of_run=True)
                fresh = await alice.http.get(f"/incidents/{incident_id}?section=runs")
                assert f'data-run-id="{runs[0]["id"]}"' in fresh.text
                assert 'data-step="loki"' in fresh.text
                assert "<details>" in fresh.text and "error: boom" in fresh.text  # its output
                assert "/var/log/api/app.log does not exist" in fresh.text

                # A run waiting for its retry, cancelled from the page.
                stuck = await alice.post(
                    f"/incidents/{incident_id}/playbooks/stuck", {"mode": "run"}
                )
                assert stuck.status_code == 303
                stuck_run = world.rt.extras["playbook_service"].runs(incident_id)[0]
                await stuck_in_retry(world, stuck_run["id"])
                runs_part = await alice.http.get(f"/incidents/{incident_id}?section=runs")
                assert f"Cancel run {stuck_run['id']}" in runs_part.text
                cancel_path = f"/incidents/{incident_id}/runs/{stuck_run['id']}/cancel"
                cancelled = await alice.post(cancel_path, htmx=True)
                assert cancelled.status_code == 200, cancelled.text
                assert f"cancel of run {stuck_run['id']} requested" in cancelled.text
                assert (await run_state(world, stuck_run["id"], "cancelled", of_run=True))[
                    "status"
                ] == "cancelled"
                assert (await alice.post(cancel_path)).status_code == 409

                vera = await browser(world).login("vera")
                seen = await vera.page(incident_id)
                assert "Run api-5xx" not in seen.text and "Dry-run api-5xx" not in seen.text
                # A viewer reads the playbook, with no form, field or post to fill in.
                main = seen.text.split('<main id="main">', 1)[1]
                assert 'data-playbook="api-5xx"' in main
                assert 'method="post"' not in main and "<input" not in main, main
                vera.token = alice.token
                assert (await vera.post(path, {"mode": "dry-run"})).status_code == 403

    asyncio.run(go())


def test_approve_and_reject_through_the_page(database_url: str, tmp_path: Path) -> None:
    async def go() -> None:
        with ExitStack() as stack:
            hook = stack.enter_context(FakeWebhook(secret="whsec-page-0123"))
            folder = write_playbooks(tmp_path / "pb", GUARDED)
            data = page_config(
                database_url, playbooks=str(folder),
                connections={"deployhook": hook.connection()}, route={},
            )  # fmt: skip
            # The real clock: the webhook's signature carries a timestamp the fake checks.
            async with ChatWorld.open(data, clock=lambda: datetime.now(UTC)) as world:
                incident_id = await webhook_incident(world)
                alice = await browser(world).login("alice")
                await alice.page(incident_id)
                path = f"/incidents/{incident_id}/playbooks/guarded"
                assert (await alice.post(path, {"mode": "run"})).status_code == 303
                (run,) = world.rt.extras["playbook_service"].runs(incident_id)
                await run_state(world, run["id"], "awaiting_approval")

                # The requester sees why not, and the service refuses her anyway.
                page = await alice.page(incident_id)
                gate = section(page.text, "approvals")
                assert f'data-run-id="{run["id"]}"' in gate
                assert "alice started this run and cannot decide its approval" in gate
                assert ">Approve<" not in gate
                own = await alice.post(f"/incidents/{incident_id}/runs/{run['id']}/approve")
                assert own.status_code == 403
                assert "alice started this run and cannot decide its approval" in own.text
                assert hook.deliveries == {}

                bob = await browser(world).login("bob")
                page = await bob.page(incident_id)
                assert ">Approve<" in section(page.text, "approvals")
                approved = await bob.post(
                    f"/incidents/{incident_id}/runs/{run['id']}/approve",
                    {"step": "deploy", "comment": "looks right"},
                    htmx=True,
                )
                assert approved.status_code == 200, approved.text
                assert "approved by bob" in approved.text
                assert 'id="approvals"' in approved.text
                done = await run_state(world, run["id"], "succeeded", of_run=True)
                assert done["status"] == "succeeded"
                assert len(hook.deliveries) == 1
                assert actors(world, "playbook_approval") == ["bob"]
                late = await bob.post(f"/incidents/{incident_id}/runs/{run['id']}/approve")
                assert late.status_code == 409

                # A second run, rejected by bob without JavaScript.
                assert (await alice.post(path, {"mode": "run"})).status_code == 303
                second = world.rt.extras["playbook_service"].runs(incident_id)[0]
                await run_state(world, second["id"], "awaiting_approval")
                await bob.page(incident_id)
                rejected = await bob.post(f"/incidents/{incident_id}/runs/{second['id']}/reject")
                assert rejected.status_code == 303, rejected.text
                ended = await run_state(world, second["id"], "rejected")
                assert ended["steps"][0]["status"] == "rejected"
                assert len(hook.deliveries) == 1
                # A run of another incident is not this page's to decide.
                assert (
                    await bob.post(f"/incidents/{incident_id + 1}/runs/{second['id']}/approve")
                ).status_code == 404
                # Only approve and reject decide; any other word is no action at all.
                odd = await bob.post(f"/incidents/{incident_id}/runs/{second['id']}/approved")
                assert odd.status_code == 404, odd.text

    asyncio.run(go())
