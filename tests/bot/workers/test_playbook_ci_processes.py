"""CI steps with real `firebell serve` processes: a dispatch whose answer never comes
(the loopback GitHub creates the run, then drops the connection) with the process
killed -9 while it waits is found again by its correlation id after a restart and
never sent twice; two replicas on PostgreSQL send each step once; an approval voids
when its playbook file changes, and one nobody gives in time ends `expired`."""

from __future__ import annotations

import json
import threading
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from playbooks import run_store
from routing.storage.database import make_engine
from routing.storage.timeline import TIMELINE
from tests.bot.http.test_e2e_playbook_ci import (
    Fakes,
    approval_message,
    click,
    open_fakes,
    shown_now,
    start_server,
    wait_logged,
)
from tests.bot.http.test_e2e_playbooks import API, open_incident, timeline
from tests.bot.workers.test_playbook_processes import send_alert
from tests.playbooks.run_support import write_playbook
from tests.support.loopback_ci import DROP, FakeGitHub
from tests.support.loopback_http import RecordedRequest, Reply
from tests.support.server_process import ServerProcess
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow

REPRO = """\
id: repro
run: on_open
match: ['service="api"']
steps:
  - id: repro
    uses: ci.github
    with: {connection: github, repo: acme/api, workflow: repro.yml, ref: main,
           inputs: {incident: "{{ incident.id }}"}}
    wait: {timeout: 5m}
"""
EVERY_CI = """\
id: every-ci
run: on_open
match: ['service="api"']
steps:
  - id: repro
    uses: ci.github
    with: {connection: github, repo: acme/api, workflow: repro.yml, ref: main}
    wait: {timeout: 5m}
  - id: build
    uses: ci.jenkins
    with: {connection: jenkins, job: api/build, parameters: {INCIDENT: "{{ incident.id }}"}}
    wait: {timeout: 5m}
  - id: tell
    uses: ci.webhook
    with: {connection: deployhook, body: {incident: "{{ incident.id }}"}}
"""
GATED = """\
id: gated
description: first version
match: ['service="api"']
steps:
  - id: deploy
    uses: ci.jenkins
    with: {connection: jenkins, job: api/deploy, parameters: {REF: main}}
    approval: {approvers: ["team:backend"], required: 2, expires_in: 1m}
"""


class StallingGitHub(FakeGitHub):
    """Holds the first dispatch until `release` (the sender is killed meanwhile); what
    it scripted (DROP) applies once released."""

    def __init__(self, **kwargs: Any) -> None:
        self.stalled = threading.Event()
        self.release = threading.Event()
        super().__init__(**kwargs)

    def _answer(self, request: RecordedRequest) -> Reply | None:
        if self.is_dispatch(request) and not self.stalled.is_set():
            self.stalled.set()
            self.release.wait(30)
        return super()._answer(request)


def ci_config(database_url: str, folder: Path, connections: dict[str, Any]) -> str:
    return json.dumps({"database_url": database_url, "playbooks": str(folder),
                       "connections": connections})  # fmt: skip


def runs(database_url: str) -> list[dict[str, Any]]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return run_store.list_runs(conn, None)
    finally:
        engine.dispose()


def all_finished(database_url: str, count: int) -> bool:
    found = runs(database_url)
    return len(found) == count and all(r["status"] != "running" for r in found)


def step_messages(database_url: str) -> list[str]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            query = select(TIMELINE.c.message).where(TIMELINE.c.kind == "playbook_step")
            return list(conn.execute(query).scalars())
    finally:
        engine.dispose()


def test_dropped_dispatch_and_kill_9_send_once_and_find_the_run(
    database_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "playbooks"
    write_playbook(folder, REPRO)
    with StallingGitHub(sequence=[("in_progress", None), ("completed", "failure")]) as github:
        github.script_dispatch(DROP)
        connection = github.connection(timeout="3s")
        text = ci_config(database_url, folder, {"github": connection})
        first = ServerProcess(tmp_path, text, name="first")
        if not database_url.startswith("sqlite"):
            assert first.cli("db", "upgrade").returncode == 0
        first.start()
        second: ServerProcess | None = None
        try:
            send_alert(first)
            assert github.stalled.wait(20), first.log()
            ((step, *_),) = [r["steps"] for r in runs(database_url)]
            assert (step["dispatch"], step["remote_id"]) == ("intent", "")
            first.kill()  # the request is out, its answer never came
            github.release.set()
            wait_for("the run created, then dropped", lambda: len(github.runs) == 1)

            second = ServerProcess(tmp_path, text, name="second").start()
            wait_for("the run to finish", lambda: all_finished(database_url, 1), timeout=60)
        finally:
            first.kill()
            if second is not None:
                second.stop()
        logs = first.log() + (second.log() if second else "")
        (run,) = runs(database_url)
        (step,) = run["steps"]
        correlation = f"fb-{run['id']}-repro"
        assert len(github.dispatches) == 1, logs  # exactly once, across the kill
        assert github.dispatches[0].json()["inputs"]["firebell_run_id"] == correlation
        assert github.runs[0].correlation == correlation
        # The step ends with the run's conclusion, read from the run the lookup found.
        assert (run["status"], step["status"], step["conclusion"]) == (
            "failed",
            "failed",
            "failure",
        ), logs
        assert step["remote_id"] == f"acme/api/{github.runs[0].id}"
        assert step["dispatch"] == "sent"
        messages = step_messages(database_url)
        resumed = [m for m in messages if "found the run by its correlation id" in m]
        assert len(resumed) == 1 and "resumed after a restart" in resumed[0], messages


@pytest.mark.postgres
def test_two_replicas_dispatch_each_step_once(pg_database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "playbooks"
    write_playbook(folder, EVERY_CI)
    names = [f"Alert{i}" for i in range(6)]
    with ExitStack() as stack:
        fakes: Fakes = open_fakes(stack)
        secrets = {"token": fakes.github.token}
        connections = {
            "github": fakes.github.connection(**secrets),
            "jenkins": fakes.jenkins.connection(api_token=fakes.jenkins.api_token),
            "deployhook": fakes.hook.connection(secret=fakes.hook.secret),
        }
        text = ci_config(pg_database_url, folder, connections)
        replicas = [ServerProcess(tmp_path, text, name=n) for n in ("r1", "r2")]
        assert replicas[0].cli("db", "upgrade").returncode == 0
        for process in replicas:
            stack.callback(process.stop)
            process.start()
        for index, name in enumerate(names):
            send_alert(replicas[index % 2], name)
        wait_for("every run", lambda: all_finished(pg_database_url, len(names)), timeout=90)
        threading.Event().wait(2.5)  # a few more passes of both replicas send nothing
        logs = "\n".join(p.log() for p in replicas)
        found = runs(pg_database_url)
        assert all(r["status"] == "succeeded" for r in found), logs
        expected = {f"fb-{r['id']}-{step}" for r in found for step in ("repro",)}
        sent = [d.json()["inputs"]["firebell_run_id"] for d in fakes.github.dispatches]
        assert sorted(sent) == sorted(expected)  # one per step, none twice
        builds = [d.query["FIREBELL_RUN_ID"][-1] for d in fakes.jenkins.dispatches]
        assert sorted(builds) == sorted(f"fb-{r['id']}-build" for r in found)
        hooks = [d.headers["idempotency-key"] for d in fakes.hook.dispatches]
        assert sorted(hooks) == sorted(f"fb-{r['id']}-tell" for r in found)
        assert fakes.hook.duplicates == 0 and fakes.hook.rejected == 0
    with make_engine(pg_database_url).connect() as conn:
        data = conn.execute(select(TIMELINE.c.data).where(TIMELINE.c.kind == "playbook_step"))
        workers = {int(d["worker"].split(":")[1]) for d in data.scalars()}
    assert workers == {p.proc.pid for p in replicas if p.proc is not None}


def test_a_changed_file_voids_the_approval_and_nobody_in_time_is_expired(
    database_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "playbooks"
    write_playbook(folder, GATED)
    with ExitStack() as stack:
        fakes = open_fakes(stack)
        server, http, slack = start_server(stack, database_url, tmp_path, fakes)
        incident_id = open_incident(http)
        wait_for("the incident message", lambda: bool(slack.calls("/api/chat.postMessage")))
        body = {"incident_id": incident_id, "playbook": "gated"}
        started = http.post("/api/v1/playbook-runs", json=body, headers=API)
        assert started.status_code == 201, started.text
        run_id = started.json()["id"]
        wait_logged(server, "the approval request", lambda: approval_message(slack) is not None, 30)
        request_ts, request = approval_message(slack) or ("", {})
        approve = request["blocks"][1]["elements"][0]
        assert click(http, slack, request_ts, approve, "bob").endswith("(1 of 2 approvals)")

        # The file changes: the worker reloads it and asks again; bob's approval is void.
        write_playbook(folder, GATED.replace("first version", "second version"))

        def voided() -> list[dict[str, Any]]:
            steps = timeline(http, incident_id, "playbook_step")
            return [e for e in steps if e["data"]["status"] == "approval_void"]

        wait_for("the approval to void", lambda: bool(voided()), timeout=30)
        assert "approval void: the request changed" in voided()[0]["message"]
        wait_for("the message to show 0 of 2", lambda: "Approvals: 0 of 2" in shown_now(
            slack, request_ts))  # fmt: skip
        stale = click(http, slack, request_ts, approve, "carol")
        assert "shows an earlier request, voided since" in stale
        run = http.get(f"/api/v1/playbook-runs/{run_id}", headers=API).json()
        assert run["steps"][0]["status"] == "awaiting_approval"

        # Nobody approves the new request: after expires_in (1m) the step is expired.
        def ended() -> bool:
            detail = http.get(f"/api/v1/playbook-runs/{run_id}", headers=API).json()
            return bool(detail["status"] != "running")

        wait_logged(server, "the expiry", ended, timeout=100)
        run = http.get(f"/api/v1/playbook-runs/{run_id}", headers=API).json()
        assert (run["status"], run["steps"][0]["status"]) == ("failed", "expired"), server.log()
        assert fakes.jenkins.requests == []  # never approved, never sent
        steps = timeline(http, incident_id, "playbook_step")
        statuses = [e["data"]["status"] for e in steps]
        assert "expired" in statuses and "approved" not in statuses and "rejected" not in statuses
        (expired,) = [e for e in steps if e["data"]["status"] == "expired"]
        assert "approval expired at" in expired["message"] and "0 of 2" in expired["message"]
        decisions = timeline(http, incident_id, "playbook_approval")
        assert [e["actor"] for e in decisions] == ["bob"]

        def offers_again() -> bool:
            return shown_now(slack, request_ts).startswith("Approval expired")

        wait_for("the message to say expired", offers_again, timeout=15)
        last = [u for u in slack.calls("/api/chat.update") if u["ts"] == request_ts][-1]
        assert [b["action_id"] for b in last["blocks"][1]["elements"]] == ["playbook_again"]
