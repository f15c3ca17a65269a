"""A harness for remote (CI) and approval steps: the runner against Q's loopback CIs
(tests/support/loopback_ci.py), a clock the test moves, passes of run_due as a worker
makes them, the stored rows and the timeline to assert on."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from integrations.connections import CONNECTION_TYPES, ConnectionBase
from integrations.outbound import Outbound
from playbooks import approval_store, run_store
from playbooks.catalog import Catalog, load_catalog
from playbooks.runner import Runner
from routing.paging.policy import PolicyConfig
from routing.storage.timeline import TIMELINE
from tests.playbooks.run_support import open_incident, write_playbook
from tests.support.paging import Clock

PEOPLE = PolicyConfig.model_validate(
    {
        "users": [{"name": n} for n in ("alice", "bob", "carol", "dave")],
        "teams": [{"name": "backend", "members": ["alice", "bob", "carol"]}],
    }
)


def ci_connections(**fakes: Any) -> dict[str, ConnectionBase]:
    """name -> the fake's connection as the config would load it."""
    loaded: dict[str, ConnectionBase] = {}
    for name, fake in fakes.items():
        data = fake.connection()
        loaded[name] = CONNECTION_TYPES[data["type"]].model_validate(data)
    return loaded


class CiHarness:
    def __init__(self, engine: Engine, folder: Path, texts: list[str], **fakes: Any) -> None:
        self.engine, self.folder, self.fakes = engine, folder, fakes
        for text in texts:
            write_playbook(folder, text)
        self.connections = ci_connections(**fakes)
        self.secrets = tuple(
            str(v) for f in fakes.values() for k, v in f.connection().items() if "token" in k
        )
        self.catalog = self.load()
        # Real time: the fake CIs stamp runs with the wall clock and `find` filters by it.
        self.clock = Clock(datetime.now(UTC).replace(microsecond=0))
        self.changes: list[int] = []
        self.incident = open_incident(engine, self.clock())
        self.reloads = 0

    def load(self) -> Catalog:
        return load_catalog(self.folder, self.connections, self.secrets, people=PEOPLE)

    def runner(self) -> Runner:
        def reload() -> bool:  # what the worker's reload does: load again, swap it in
            self.reloads += 1
            self.catalog = self.load()
            runner.use_catalog(self.catalog)
            return True

        runner = Runner(
            self.engine, self.catalog, Outbound(), self.clock, None, self.changes.append,
            reload=reload,
        )  # fmt: skip
        return runner

    def start(self, name: str, actor: str = "dave") -> int:
        with self.engine.begin() as conn:
            run_id = run_store.create_run(
                conn, incident_id=self.incident, playbook=self.catalog.playbooks[name],
                params={}, started_by=actor, trigger="manual", now=self.clock(),
            )  # fmt: skip
        assert run_id is not None
        return run_id

    def due(self, owner: str = "w1") -> int:
        async def go() -> int:
            runner = self.runner()
            try:
                return await runner.run_due(owner)
            finally:
                await runner.io.outbound.aclose()

        return asyncio.run(go())

    def drive(self, run_id: int, until: Callable[[dict[str, Any]], bool], passes: int = 40) -> None:
        """Worker passes, the clock moved a second between them, until `until(run)`."""
        for _ in range(passes):
            self.due()
            if until(self.run(run_id)):
                return
            self.clock.advance(seconds=1)
        raise AssertionError(f"not reached: {self.run(run_id)}")

    def run(self, run_id: int) -> dict[str, Any]:
        with self.engine.connect() as conn:
            found = run_store.get_run(conn, run_id)
        assert found is not None
        return found

    def step(self, run_id: int, step_id: str) -> dict[str, Any]:
        return next(s for s in self.run(run_id)["steps"] if s["step_id"] == step_id)

    def decide(self, run_id: int, step_id: str, who: str, decision: str = "approved") -> None:
        row = self.step(run_id, step_id)
        with self.engine.begin() as conn:
            approval_store.record(
                conn, step_row_id=row["id"], approver=who, decision=decision, surface="api",
                at=self.clock(), request_hash=row["request_hash"], comment=f"{who} says so",
            )  # fmt: skip
            conn.execute(
                run_store.RUN.update()
                .where(run_store.RUN.c.id == run_id)
                .values(due_at=self.clock())
            )

    def timeline(self) -> list[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(TIMELINE.c.message)
                .where(TIMELINE.c.incident_id == self.incident, TIMELINE.c.kind == "playbook_step")
                .order_by(TIMELINE.c.id)
            )
            return [r.message.split("\n")[0] for r in rows]
