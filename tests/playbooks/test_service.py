"""PlaybookService on SQLite and PostgreSQL: what starting a run refuses and writes, the
dry-run's timeline entry and its zero requests, matching, cancelling, outputs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import select, update

from integrations.outbound import Outbound
from playbooks.run_store import RUN
from playbooks.service import PlaybookRefused, PlaybookService
from routing.storage.timeline import TIMELINE
from tests.playbooks.surface_support import FarSides, catalog_for, far_sides, write_playbooks
from tests.support.chat_harness import ChatWorld, settings_data


@dataclass
class World:
    chat: ChatWorld
    service: PlaybookService
    sides: FarSides
    wakes: list[int] = field(default_factory=list)

    def timeline(self, incident_id: int, kind: str) -> list[dict[str, object]]:
        with self.chat.rt.engine.connect() as conn:
            rows = conn.execute(
                select(TIMELINE).where(
                    TIMELINE.c.incident_id == incident_id, TIMELINE.c.kind == kind
                )
            ).mappings()
            return [dict(row) for row in rows]


@asynccontextmanager
async def world(database_url: str, tmp_path: Path) -> AsyncIterator[World]:
    with far_sides() as sides:
        catalog = catalog_for(write_playbooks(tmp_path / "playbooks"), sides)
        async with ChatWorld.open(settings_data(database_url)) as chat:
            rt = chat.rt
            outbound = Outbound()
            wakes: list[int] = []
            service = PlaybookService(
                rt.engine,
                rt.read_engine,
                catalog,
                rt.clock,
                "https://firebell.example",
                lambda: wakes.append(1),
                outbound,
            )
            try:
                yield World(chat, service, sides, wakes)
            finally:
                await outbound.aclose()


def test_start_refuses_by_field_and_writes_the_run_as_the_caller(
    database_url: str, tmp_path: Path
) -> None:
    async def go() -> None:
        async with world(database_url, tmp_path) as w:
            incident_id = await w.chat.incident()
            service = w.service
            cases = [
                (9999, "api-5xx", {}, ("incident_id", 404, "incident 9999 not found")),
                (incident_id, "nope", {}, ("playbook", 404, 'unknown playbook "nope"')),
                (incident_id, "db-only", {}, ("playbook", 409, 'it needs service="db"')),
                (incident_id, "api-5xx", {"window": "7h"}, ("params.window", 422, "at most 6h")),
                (incident_id, "api-5xx", {"x": "1"}, ("params.x", 422, "unknown param")),
            ]
            for incident, name, params, (where, status, text) in cases:
                with pytest.raises(PlaybookRefused) as caught:
                    service.start(incident, name, params, "alice")
                exc = caught.value
                assert (exc.field, exc.status) == (where, status), exc.message
                assert text in exc.message
            assert 'the incident\'s service is "api"' in _message(service, incident_id, "db-only")
            assert w.wakes == []

            run = service.start(incident_id, "api-5xx", {"window": "1h"}, "alice")
            assert (run["incident_id"], run["playbook"], run["status"]) == (
                incident_id, "api-5xx", "running",
            )  # fmt: skip
            assert (run["started_by"], run["trigger"], run["params"]) == (
                "alice", "manual", {"window": "1h"},
            )  # fmt: skip
            assert [s["step_id"] for s in run["steps"]] == [
                "loki", "es", "file", "journal", "sentry", "report",
            ]  # fmt: skip
            assert {s["status"] for s in run["steps"]} == {"pending"}
            assert w.wakes == [1]  # the worker is woken at once
            assert [r["id"] for r in service.runs(incident_id)] == [run["id"]]
            assert service.run(run["id"])["id"] == run["id"]
            assert w.sides.requests() == 0  # starting sends nothing: the worker runs it

    asyncio.run(go())


def _message(service: PlaybookService, incident_id: int, name: str) -> str:
    try:
        service.start(incident_id, name, {}, "alice")
    except PlaybookRefused as exc:
        return exc.message
    raise AssertionError("not refused")


def test_dry_run_sends_nothing_and_records_who_asked(database_url: str, tmp_path: Path) -> None:
    async def go() -> None:
        async with world(database_url, tmp_path) as w:
            incident_id = await w.chat.incident()
            result = await w.service.dry_run(incident_id, "api-5xx", {"window": "2h"}, "bob")
            assert (result["playbook"], result["incident_id"], result["sent"]) == (
                "api-5xx", incident_id, 0,
            )  # fmt: skip
            assert result["params"] == {"window": "2h"}
            steps = {s["id"]: s for s in result["steps"]}
            assert steps["loki"]["request"]["url"].startswith(w.sides.loki.base_url)
            assert steps["sentry"]["if"] is False
            assert w.sides.requests() == 0  # not one request reached a log store

            (entry,) = w.timeline(incident_id, "playbook_dry_run")
            assert entry["actor"] == "bob"
            assert "dry-run of api-5xx" in str(entry["message"])
            assert "nothing sent" in str(entry["message"])
            data = entry["data"]
            assert isinstance(data, dict) and data["playbook"] == "api-5xx"
            assert data["steps"][0]["would"].startswith("GET " + w.sides.loki.base_url)
            # A dry-run writes no run.
            assert w.service.runs(incident_id) == []

            with pytest.raises(PlaybookRefused) as caught:
                await w.service.dry_run(incident_id, "db-only", {}, "bob")
            assert caught.value.status == 409

            read = await w.service.dry_run(incident_id, "loki-only", {}, "bob", with_reads=True)
            assert read["sent"] == 1 and len(w.sides.loki.requests) == 1
            assert read["steps"][0]["result"] == "1 line"
            entries = w.timeline(incident_id, "playbook_dry_run")
            assert "1 read sent" in str(entries[-1]["message"])

    asyncio.run(go())


def test_matching_cancel_and_outputs(database_url: str, tmp_path: Path) -> None:
    async def go() -> None:
        async with world(database_url, tmp_path) as w:
            api = await w.chat.incident()
            db = await w.chat.incident("DiskFull", "db")
            assert [p.id for p in w.service.matching(api)] == ["api-5xx", "loki-only"]
            assert [p.id for p in w.service.matching(db)] == ["db-only"]
            with pytest.raises(PlaybookRefused):
                w.service.matching(9999)

            run = w.service.start(api, "loki-only", {}, "alice")
            outputs = w.service.outputs(run["id"])
            assert [o["step_id"] for o in outputs] == ["loki", "again", "report"]
            assert outputs[0]["text"] == ""
            with pytest.raises(PlaybookRefused) as caught:
                w.service.outputs(run["id"], "nope")
            assert (caught.value.field, caught.value.status) == ("step_id", 404)

            cancelled = w.service.cancel(run["id"], "bob")
            assert cancelled["cancel_requested_by"] == "bob"
            assert len(w.timeline(api, "playbook_cancel_requested")) == 1
            with pytest.raises(PlaybookRefused) as caught:
                w.service.cancel(424242, "bob")
            assert caught.value.status == 404
            with w.chat.rt.engine.begin() as conn:
                conn.execute(update(RUN).where(RUN.c.id == run["id"]).values(status="cancelled"))
            with pytest.raises(PlaybookRefused) as caught:
                w.service.cancel(run["id"], "bob")
            assert caught.value.status == 409 and "already finished" in caught.value.message

    asyncio.run(go())
