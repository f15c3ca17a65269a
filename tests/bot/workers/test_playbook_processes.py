"""Playbook runs with real `firebell serve` processes on one PostgreSQL: kill -9 in the
middle of a step, and the run finishes after a restart with each later step sent exactly
once and the interrupted one taken again (attempt 2); two replicas never send one step
twice. The loopback Loki counts every request it receives, per incident and step."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select

from playbooks import run_store
from routing.storage.database import make_engine
from routing.storage.timeline import TIMELINE
from tests.playbooks.run_support import LOKI_TOKEN, loki_body, selector_value, write_playbook
from tests.support.loopback_http import RecordedRequest, Reply, start
from tests.support.paging import am_payload
from tests.support.server_process import ServerProcess
from tests.support.waiting import wait_for

PLAYBOOK = """\
id: crash-safe
run: on_open
match: ['service="api"']
steps:
  - id: a
    uses: logs.loki
    timeout: 4s
    with: {connection: loki, selector: {step: a, incident: "{{ incident.id }}"}}
  - id: b
    uses: logs.loki
    with: {connection: loki, selector: {step: b, incident: "{{ incident.id }}"}}
  - id: c
    uses: logs.loki
    with: {connection: loki, selector: {step: c, incident: "{{ incident.id }}"}}
"""


class CountingLoki:
    """Counts query_range requests per (incident, step); can stall the first of one step."""

    def __init__(self, stall_step: str | None = None, delay: float = 0.0) -> None:
        self.counts: dict[tuple[str, str], int] = {}
        self.stall_step = stall_step
        self.delay = delay
        self.stalled = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, request: RecordedRequest) -> Reply:
        assert request.headers.get("authorization") == f"Bearer {LOKI_TOKEN}"
        key = (selector_value(request, "incident"), selector_value(request, "step"))
        with self._lock:
            self.counts[key] = self.counts.get(key, 0) + 1
            first = self.counts[key] == 1
        if key[1] == self.stall_step and first:
            self.stalled.set()
            self.release.wait(30)
        elif self.delay:
            self.release.wait(self.delay)
        return Reply.json(loki_body(f"error for {key}"))


def config(database_url: str, folder: Path, loki_url: str) -> str:
    return f"""
database_url: "{database_url}"
playbooks: "{folder}"
connections:
  loki: {{type: loki, url: "{loki_url}", allow_private: true, token: "{LOKI_TOKEN}"}}
"""


@pytest.fixture
def engine(pg_database_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_database_url)
    yield engine
    engine.dispose()


def runs(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        return run_store.list_runs(conn, None)


def all_finished(engine: Engine, count: int) -> bool:
    found = runs(engine)
    return len(found) == count and all(r["status"] != "running" for r in found)


def send_alert(server: ServerProcess, name: str = "HighErrorRate") -> None:
    response = httpx.post(
        server.base_url + "/webhooks/alertmanager",
        content=am_payload(name, service="api", instance=f"{name}-node"),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 202, response.text


@pytest.mark.postgres
@pytest.mark.slow
def test_kill_9_mid_step_resumes_and_runs_each_later_step_once(
    pg_database_url: str, engine: Engine, tmp_path: Path
) -> None:
    loki = CountingLoki(stall_step="a")
    folder = tmp_path / "playbooks"
    write_playbook(folder, PLAYBOOK)
    with start(loki) as server:
        text = config(pg_database_url, folder, server.base_url)
        first = ServerProcess(tmp_path, text, name="first").start()
        second: ServerProcess | None = None
        try:
            send_alert(first)
            assert loki.stalled.wait(20), first.log()
            (run,) = runs(engine)
            assert run["steps"][0]["status"] == "running"  # type: ignore[index]
            first.kill()  # mid-step: a's request is in flight
            loki.release.set()

            second = ServerProcess(tmp_path, text, name="second").start()
            # The dead worker's lease (timeout 4s + margin) runs out, then it resumes.
            wait_for("the run to finish", lambda: all_finished(engine, 1), timeout=40)
        finally:
            first.kill()
            if second is not None:
                second.stop()
    (run,) = runs(engine)
    logs = first.log() + (second.log() if second else "")
    assert run["status"] == "succeeded", logs
    incident = str(run["incident_id"])
    assert loki.counts == {(incident, "a"): 2, (incident, "b"): 1, (incident, "c"): 1}
    steps = {s["step_id"]: (s["status"], s["attempt"]) for s in run["steps"]}  # type: ignore[attr-defined]
    assert steps == {"a": ("succeeded", 2), "b": ("succeeded", 1), "c": ("succeeded", 1)}
    with engine.connect() as conn:
        messages = list(conn.execute(select(TIMELINE.c.message)).scalars())
    assert "a: started (resumed after a restart, attempt 2)" in messages
    assert sum(m.startswith("playbook crash-safe started") for m in messages) == 1


@pytest.mark.postgres
@pytest.mark.slow
def test_two_replicas_never_send_one_step_twice(
    pg_database_url: str, engine: Engine, tmp_path: Path
) -> None:
    loki = CountingLoki(delay=0.1)
    folder = tmp_path / "playbooks"
    write_playbook(folder, PLAYBOOK)
    names = [f"Alert{i}" for i in range(6)]
    with start(loki) as server:
        text = config(pg_database_url, folder, server.base_url)
        replicas = [ServerProcess(tmp_path, text, name=n).start() for n in ("r1", "r2")]
        try:
            for index, name in enumerate(names):
                send_alert(replicas[index % 2], name)
            wait_for("every run to finish", lambda: all_finished(engine, len(names)), timeout=40)
            # A few more polls of both replicas: nothing is sent again.
            threading.Event().wait(2.5)
        finally:
            for process in replicas:
                process.stop()
    found = runs(engine)
    logs = "\n".join(p.log() for p in replicas)
    assert len({r["incident_id"] for r in found}) == len(names), logs
    assert all(r["status"] == "succeeded" for r in found), logs
    expected = {(str(r["incident_id"]), step): 1 for r in found for step in "abc"}
    assert loki.counts == expected
    # Both replicas ran steps (each started the runs of the incidents it ingested).
    with engine.connect() as conn:
        data = conn.execute(select(TIMELINE.c.data).where(TIMELINE.c.kind == "playbook_step"))
        workers = {int(d["worker"].split(":")[1]) for d in data.scalars()}
    assert workers == {p.proc.pid for p in replicas if p.proc is not None}
