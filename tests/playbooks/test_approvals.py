"""Approvals through the service and the REST API, on SQLite and PostgreSQL: who may
decide (the requester never; team members; whoever is on call at the click), N distinct
people, idempotent clicks, refusals naming who may, decisions on the timeline, request
again after expiry."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from playbooks.service import PlaybookRefused
from tests.playbooks.approval_support import (
    MACHINE_TOKEN,
    REQUEST_HASH,
    TOKENS,
    approval_world,
    end_expired,
)
from tests.support.chat_harness import NOW

WHO_MAY = "team:backend (bob, carol), oncall:primary (now: carol); not alice, who started the run"


def refused(call: object) -> PlaybookRefused:
    with pytest.raises(PlaybookRefused) as caught:
        assert callable(call)
        call()
    return caught.value


def test_two_distinct_people_approve_and_the_requester_never(
    database_url: str, tmp_path: Path
) -> None:
    async def go() -> None:
        async with approval_world(database_url, tmp_path) as w:
            run_id = await w.awaiting_run(started_by="alice")
            people = w.chat.rt.settings
            service = w.service

            exc = refused(lambda: service.decide(run_id, "approved", "alice", people))
            assert exc.status == 403
            assert (
                exc.message
                == f"alice started this run and cannot decide its approval; who may: {WHO_MAY}"
            )
            exc = refused(lambda: service.decide(run_id, "approved", "erin", people))
            assert (exc.status, exc.message) == (
                403, f"erin may not approve this step; who may: {WHO_MAY}"
            )  # fmt: skip
            assert w.timeline("playbook_approval") == [] and w.wakes == []

            w.clock.now = NOW + timedelta(minutes=5)
            first = service.decide(run_id, "approved", "bob", people, comment="repro green")
            assert (first["outcome"], first["approved_by"], first["already"]) == (
                "pending", ["bob"], False
            )  # fmt: skip
            run = w.run_row(run_id)
            assert run["due_at"] == w.clock.now  # the runner looks at once
            again = service.decide(run_id, "approved", "bob", people)
            assert again["already"] and again["approved_by"] == ["bob"]
            assert again["outcome"] == "pending"

            w.clock.now = NOW + timedelta(minutes=7)
            second = service.decide(run_id, "approved", "carol", people, surface="slack")
            assert (second["outcome"], second["approved_by"]) == ("approved", ["bob", "carol"])
            assert len(w.wakes) == 2  # one per new decision, none for the repeated click

            entries = w.timeline("playbook_approval")
            assert [(e["actor"], e["at"], e["data"]["decision"]) for e in entries] == [
                ("bob", NOW + timedelta(minutes=5), "approved"),
                ("carol", NOW + timedelta(minutes=7), "approved"),
            ]
            assert entries[0]["message"] == (
                f"playbook deploy: step hotfix of run {run_id}: approved by bob "
                "(1 of 2 approvals) via api: repro green"
            )
            assert entries[1]["data"]["surface"] == "slack"
            assert entries[1]["data"]["request_hash"] == REQUEST_HASH

    asyncio.run(go())


def test_a_reject_stands_and_expiry_refuses(database_url: str, tmp_path: Path) -> None:
    async def go() -> None:
        async with approval_world(database_url, tmp_path) as w:
            run_id = await w.awaiting_run()
            people = w.chat.rt.settings
            service = w.service
            result = service.decide(run_id, "rejected", "bob", people, comment="not now")
            assert result["outcome"] == "rejected"
            exc = refused(lambda: service.decide(run_id, "approved", "bob", people))
            assert exc.status == 409 and exc.message.startswith("bob already rejected")
            (entry,) = w.timeline("playbook_approval")
            assert entry["data"]["decision"] == "rejected" and entry["actor"] == "bob"

            w.clock.now = NOW + timedelta(minutes=45)
            exc = refused(lambda: service.decide(run_id, "approved", "carol", people))
            assert exc.status == 409 and "expired at" in exc.message
            exc = refused(lambda: service.decide(run_id, "approved", "carol", people, step_id="x"))
            assert (exc.status, exc.field) == (404, "step")

    asyncio.run(go())


def test_oncall_approver_is_whoever_is_on_call_at_the_click(
    database_url: str, tmp_path: Path
) -> None:
    async def go() -> None:
        async with approval_world(database_url, tmp_path) as w:
            # Tuesday 08:40 UTC: carol is on call until the 09:00 hand-off to dave.
            w.clock.now = NOW + timedelta(hours=22, minutes=40)
            run_id = await w.awaiting_run(started_by="bob")
            people = w.chat.rt.settings
            exc = refused(lambda: w.service.decide(run_id, "approved", "dave", people))
            assert exc.status == 403 and "oncall:primary (now: carol)" in exc.message
            w.clock.now = NOW + timedelta(hours=23, minutes=5)
            result = w.service.decide(run_id, "approved", "dave", people)
            assert result["approved_by"] == ["dave"] and result["outcome"] == "pending"

    asyncio.run(go())


def test_rest_approve_reject_as_the_token_person(database_url: str, tmp_path: Path) -> None:
    async def go() -> None:
        async with approval_world(database_url, tmp_path) as w:
            run_id = await w.awaiting_run(started_by="alice")
            http = w.chat.http

            def as_(name: str) -> dict[str, str]:
                return {"authorization": f"Bearer {TOKENS[name]}"}

            url = f"/api/v1/playbook-runs/{run_id}"
            response = await http.post(f"{url}/approve", headers=as_("alice"))
            assert response.status_code == 403
            assert response.json()["detail"].endswith(f"who may: {WHO_MAY}")
            response = await http.post(f"{url}/approve", headers=as_("erin"), json={})
            assert response.status_code == 403 and "who may: team:backend" in response.text
            machine = {"authorization": f"Bearer {MACHINE_TOKEN}"}
            response = await http.post(f"{url}/approve", headers=machine)
            assert (response.status_code, response.json()["field"]) == (403, "body.actor")
            assert response.json()["detail"].startswith("only a firebell user can approve")

            response = await http.post(
                f"{url}/approve", headers=as_("bob"), json={"step": "hotfix", "comment": "ok"}
            )
            assert response.status_code == 200, response.text
            body = response.json()
            assert (body["approver"], body["outcome"], body["already"]) == ("bob", "pending", False)
            response = await http.post(f"{url}/approve", headers=as_("bob"))
            assert response.status_code == 200 and response.json()["already"] is True
            assert "already approved by you" in response.json()["message"]
            response = await http.post(f"{url}/approve", headers=as_("bob"), json={"actor": "x"})
            assert response.status_code == 422

            response = await http.post(f"{url}/reject", headers=as_("carol"))
            assert response.status_code == 200 and response.json()["outcome"] == "rejected"
            entries = w.timeline("playbook_approval")
            assert [(e["actor"], e["data"]["decision"]) for e in entries] == [
                ("bob", "approved"), ("carol", "rejected")
            ]  # fmt: skip

            response = await http.post("/api/v1/playbook-runs/999999/approve", headers=as_("bob"))
            assert response.status_code == 404 and response.json()["field"] == "path.run_id"
            other = await w.awaiting_run(started_by="bob")
            response = await http.post(
                f"/api/v1/playbook-runs/{other}/approve", headers=as_("carol"),
                json={"step": "nope"},
            )  # fmt: skip
            assert response.status_code == 404 and response.json()["field"] == "body.step"

    asyncio.run(go())


def test_rest_409_when_nothing_awaits_and_request_again(database_url: str, tmp_path: Path) -> None:
    async def go() -> None:
        async with approval_world(database_url, tmp_path) as w:
            incident_id = await w.chat.incident()
            plain = w.service.start(incident_id, "deploy", {"ref": "v9"}, "alice")
            response = await w.chat.http.post(
                f"/api/v1/playbook-runs/{plain['id']}/approve",
                headers={"authorization": f"Bearer {TOKENS['bob']}"},
            )
            assert response.status_code == 409
            assert (
                response.json()["detail"]
                == f"nothing awaits approval in playbook run {plain['id']}"
            )

            bob = {"authorization": f"Bearer {TOKENS['bob']}"}
            response = await w.chat.http.post(
                f"/api/v1/playbook-runs/{plain['id']}/request-again", headers=bob
            )
            assert (response.status_code, response.json()["field"]) == (409, "path.run_id")
            assert response.json()["detail"] == (
                f"playbook run {plain['id']} has no expired approval to ask again"
            )
            response = await w.chat.http.post(
                "/api/v1/playbook-runs/999999/request-again", headers=bob
            )
            assert response.status_code == 404
            run_id = await w.awaiting_run(started_by="alice")
            end_expired(w.chat.rt.engine, run_id)
            cancelled = await w.awaiting_run(started_by="alice")
            w.service.cancel(cancelled, "dave")
            people = w.chat.rt.settings
            exc = refused(lambda: w.service.decide(cancelled, "approved", "bob", people))
            assert (exc.status, exc.message) == (
                409, f"playbook run {cancelled} is being cancelled by dave"
            )  # fmt: skip

            response = await w.chat.http.post(
                f"/api/v1/playbook-runs/{run_id}/request-again", headers=bob
            )
            assert response.status_code == 201
            again = response.json()
            assert again["id"] != run_id and again["status"] == "running"
            assert again["started_by"] == "bob"
            # A second press (another person, another replica) starts nothing more.
            carol = {"authorization": f"Bearer {TOKENS['carol']}"}
            response = await w.chat.http.post(
                f"/api/v1/playbook-runs/{run_id}/request-again", headers=carol
            )
            assert response.status_code == 200
            assert (response.json()["id"], response.json()["started_by"]) == (again["id"], "bob")
            runs = w.service.runs(again["incident_id"])
            assert max(r["id"] for r in runs) == again["id"]
            assert again["params"] == {"ref": "v1.2"} and again["playbook"] == "deploy"

    asyncio.run(go())
