"""The playbook worker in a served app, on SQLite and PostgreSQL: an on_open playbook
starts once when its incident opens (never again on repeats or a reopen), runs to the
end against a loopback Loki, and one the hook never saw is started by the catch-up scan."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select

from bot.config import Settings
from bot.roles import create_app
from bot.runtime.state import Runtime
from bot.workers.playbook_worker import PLAYBOOKS, PlaybookWorker
from playbooks import run_store
from playbooks.service import PlaybookService
from routing.intake.alert import AlertStatus
from routing.intake.submission import Submission
from routing.storage.database import make_engine
from routing.storage.timeline import TIMELINE
from tests.playbooks.run_support import Loki, loki_connection, open_incident, write_playbook
from tests.support.chat_harness import alert
from tests.support.loopback_http import LoopbackServer, start

ON_OPEN = """\
id: first-look
run: on_open
match: ['service="api"']
params:
  window: {type: duration, default: 15m}
steps:
  - id: a
    uses: logs.loki
    with:
      connection: loki
      selector: {step: a, incident: "{{ incident.id }}"}
      since: "{{ params.window }}"
  - id: b
    uses: logs.loki
    with: {connection: loki, selector: {step: b, incident: "{{ incident.id }}"}}
"""
MANUAL = """\
id: by-hand
match: ['service="api"']
steps:
  - {id: a, uses: logs.loki, with: {connection: loki, selector: {step: manual}}}
"""


def settings(database_url: str, folder: Path, loki: LoopbackServer) -> Settings:
    write_playbook(folder, ON_OPEN)
    write_playbook(folder, MANUAL)
    data: dict[str, Any] = {
        "database_url": database_url,
        "playbooks": str(folder),
        "connections": {"loki": loki_connection(loki.base_url)},
    }
    return Settings.model_validate(data)


@asynccontextmanager
async def served(config: Settings) -> AsyncIterator[Runtime]:
    app: FastAPI = create_app(config)
    rt: Runtime = app.state.runtime
    async with app.router.lifespan_context(app):
        yield rt


def runs_of(rt: Runtime, incident_id: int | None = None) -> list[dict[str, Any]]:
    with rt.engine.connect() as conn:
        return run_store.list_runs(conn, incident_id)


async def until(what: str, check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def finished(rt: Runtime, incident_id: int) -> bool:
    runs = runs_of(rt, incident_id)
    return bool(runs) and all(r["status"] != "running" for r in runs)


def test_on_open_runs_once_per_incident(database_url: str, tmp_path: Path) -> None:
    async def go() -> None:
        loki = Loki()
        with start(loki) as server:
            async with served(settings(database_url, tmp_path / "playbooks", server)) as rt:
                assert isinstance(rt.extras["playbook_service"], PlaybookService)
                assert callable(rt.extras["playbook_wake"])
                assert PLAYBOOKS in {beat.name for beat in rt.heartbeats.snapshot()}
                outcome = await rt.intake.submit(Submission("alertmanager", [alert()]))
                incident_id = outcome.alerts[0].incident_id
                assert incident_id is not None
                await until("the on_open run to finish", lambda: finished(rt, incident_id))
                (run,) = runs_of(rt, incident_id)
                assert (run["playbook"], run["trigger"], run["started_by"]) == (
                    "first-look",
                    "on_open",
                    "firebell",
                )
                assert run["status"] == "succeeded" and run["params"] == {"window": "15m"}
                assert run["once_key"] == f"on_open:{incident_id}:first-look"
                assert [s["status"] for s in run["steps"]] == ["succeeded", "succeeded"]

                # A repeat, a resolve and a reopen: the same incident, no second run.
                await rt.intake.submit(Submission("alertmanager", [alert()]))
                await rt.intake.submit(
                    Submission("alertmanager", [alert(status=AlertStatus.RESOLVED)])
                )
                reopened = await rt.intake.submit(Submission("alertmanager", [alert()]))
                assert reopened.alerts[0].incident_id == incident_id
                # Another service's incident matches no playbook.
                await rt.intake.submit(Submission("alertmanager", [alert("DiskFull", "db")]))
                worker: PlaybookWorker = rt.extras["playbooks"]
                await worker.catch_up()
                await asyncio.sleep(0.3)
                assert len(runs_of(rt)) == 1
                assert loki.counts == {"a": 1, "b": 1}
                with rt.engine.connect() as conn:
                    kinds = [
                        r.kind
                        for r in conn.execute(
                            select(TIMELINE.c.kind).where(TIMELINE.c.incident_id == incident_id)
                        )
                    ]
                assert (
                    kinds.count("playbook_started") == 1 and kinds.count("playbook_finished") == 1
                )
                assert kinds.count("playbook_step") == 4

                # A manual start through the service wakes the worker.
                service: PlaybookService = rt.extras["playbook_service"]
                started = service.start(incident_id, "by-hand", {}, "alice")
                await until(
                    "the manual run",
                    lambda: service.run(started["id"])["status"] == "succeeded",
                    10,
                )
                assert service.run(started["id"])["started_by"] == "alice"

    asyncio.run(go())


def test_catch_up_starts_what_the_hook_missed(database_url: str, tmp_path: Path) -> None:
    """An incident committed without the hook (a crash right after the commit) gets its
    on_open run from the scan at start."""
    engine = make_engine(database_url)
    try:
        missed = open_incident(engine, datetime.now(UTC))
    finally:
        engine.dispose()

    async def go() -> None:
        with start(Loki()) as server:
            async with served(settings(database_url, tmp_path / "playbooks", server)) as rt:
                await until("the missed incident's run", lambda: finished(rt, missed))
                (run,) = runs_of(rt, missed)
                assert run["status"] == "succeeded"

    asyncio.run(go())


def test_a_process_without_workers_starts_on_open_runs_but_does_not_run_them(
    database_url: str, tmp_path: Path
) -> None:
    async def go() -> None:
        with start(Loki()) as server:
            config = settings(database_url, tmp_path / "playbooks", server)
            app = create_app(config, workers=False)
            rt: Runtime = app.state.runtime
            assert rt.extras["playbooks"].runs is False
            async with app.router.lifespan_context(app):
                outcome = await rt.intake.submit(Submission("alertmanager", [alert()]))
                incident_id = outcome.alerts[0].incident_id
                assert incident_id is not None
                await until("the run row", lambda: bool(runs_of(rt, incident_id)))
                await asyncio.sleep(1.5)  # more than a poll interval: still nobody runs it
                (run,) = runs_of(rt, incident_id)
                assert run["status"] == "running" and run["steps"][0]["attempt"] == 0
                assert PLAYBOOKS in {beat.name for beat in rt.heartbeats.snapshot()}

    asyncio.run(go())


def test_without_playbooks_no_worker_runs(tmp_path: Path) -> None:
    """The service is there for the surfaces; the loop (and its heartbeat) is not."""
    config = Settings.model_validate({"database_url": f"sqlite:///{tmp_path}/x.db"})

    async def go() -> None:
        app = create_app(config)
        rt: Runtime = app.state.runtime
        assert isinstance(rt.extras["playbooks"], PlaybookWorker)
        assert isinstance(rt.extras["playbook_service"], PlaybookService)
        assert rt.extras["playbook_catalog"].playbooks == {}
        async with app.router.lifespan_context(app):
            assert PLAYBOOKS not in {beat.name for beat in rt.heartbeats.snapshot()}
            assert "paging worker" in {beat.name for beat in rt.heartbeats.snapshot()}

    asyncio.run(go())


def test_a_stopping_worker_lets_go_of_a_step_it_cut_off(database_url: str, tmp_path: Path) -> None:
    """Shutdown waits `grace` for a step, then cancels it and releases the run: the next
    process resumes it at once (attempt 2), without waiting for the lease to run out."""

    async def go() -> None:
        loki = Loki()
        loki.stall_step = "a"
        with start(loki) as server:
            config = settings(database_url, tmp_path / "playbooks", server)
            async with served(config) as rt:
                outcome = await rt.intake.submit(Submission("alertmanager", [alert()]))
                incident_id = outcome.alerts[0].incident_id
                assert incident_id is not None
                await until("the stalled request", loki.stalled.is_set)
                worker: PlaybookWorker = rt.extras["playbooks"]
                await worker.stop(grace=0.2)
            loki.release.set()
            (run,) = runs_of(rt, incident_id)
            assert (run["lease_owner"], run["lease_until"]) == ("", None)
            assert run["steps"][0]["status"] == "running"
            async with served(config) as again:
                await until("the resumed run", lambda: finished(again, incident_id), 10)
                (run,) = runs_of(again, incident_id)
        assert run["status"] == "succeeded"
        assert [s["attempt"] for s in run["steps"]] == [2, 1]

    asyncio.run(go())
