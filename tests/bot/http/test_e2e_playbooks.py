"""Playbooks end to end against a real `firebell serve` on a loopback port, on SQLite and
PostgreSQL: an Alertmanager alert opens an incident, its `on_open` playbook reads a
loopback Loki, and the excerpt shows on the timeline and in the Slack thread (a loopback
Web API); a signed Slack button click starts a manual run as the clicking user; dry-runs
from REST and the CLI send nothing to any log store."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.bot.chat.test_slack import FakeSlack, button_body, signed
from tests.integrations.logs.test_loki import streams_answer
from tests.playbooks.surface_support import API_5XX, FarSides, far_sides, write_playbooks
from tests.support.chat_harness import ALICE_SLACK, SIGNING_SECRET, SLACK_TOKEN
from tests.support.loopback_http import LoopbackServer, RecordedRequest, Reply, start
from tests.support.server_process import ServerProcess
from tests.support.waiting import wait_for
from tests.support.webhook_payloads import am_alert, am_webhook

pytestmark = pytest.mark.slow

TOKENS = {
    "ALICE_TOKEN": "alice-token-5c6d7e8f",
    "AM_TOKEN": "am-token-0a1b2c3d4e",
    "LOKI_TOKEN": "loki-token-9f8e7d6c",
}
API = {"Authorization": f"Bearer {TOKENS['ALICE_TOKEN']}"}
AM = {"Authorization": f"Bearer {TOKENS['AM_TOKEN']}", "Content-Type": "application/json"}
# A label value that would widen an unescaped LogQL selector to every stream.
HOSTILE_POD = 'a"} or {job=~".+'
LOG_LINE = "error: upstream timed out after 30s (order 4711)"

ON_OPEN = """\
id: api-errors
description: Loki errors of the service, when the incident opens
match: ['service="api"']
run: on_open
steps:
  - id: loki
    uses: logs.loki
    with:
      connection: loki
      selector: {app: "{{ incident.labels.service }}", pod: "{{ incident.labels.pod }}"}
      contains: error
      since: 30m
      limit: 200
"""
MANUAL = """\
id: api-manual
description: The same read, started by hand
match: ['service="api"']
steps:
  - id: loki
    uses: logs.loki
    with: {connection: loki, selector: {app: "{{ incident.labels.service }}"}, limit: 50}
"""


def config(
    database_url: str, slack_url: str, connections: dict[str, Any], sources: dict[str, Any]
) -> str:
    """The server's config as JSON (which is YAML): Slack through the loopback Web API,
    the incident posted to #ops by a one-step escalation."""
    data = {
        "database_url": database_url,
        "api_tokens": [
            {"token": "${ALICE_TOKEN}", "user": "alice"},
            {"token": "${AM_TOKEN}", "name": "alertmanager"},
        ],
        "users": [{"name": "alice", "slack_id": ALICE_SLACK, "role": "responder"}],
        "teams": [{"name": "ops", "members": ["alice"], "channels": ["slack:#ops"]}],
        "escalation_policies": [{"name": "ops", "steps": [{"notify": ["team:ops"]}]}],
        "route": {"receiver": {"escalation": "ops"}},
        "slack": {"bot_token": SLACK_TOKEN, "signing_secret": SIGNING_SECRET,
                  "api_url": slack_url + "/api/"},
        "playbooks": "./playbooks",
        "connections": connections,
        "sources": sources,
    }  # fmt: skip
    return json.dumps(data, indent=1)


@dataclass
class World:
    server: ServerProcess
    http: httpx.Client
    slack: FakeSlack
    loki: LoopbackServer


def loki_answer(request: RecordedRequest) -> Reply:
    at = time.time_ns() - 60 * 10**9
    return Reply.json(streams_answer(({"app": "api", "pod": "p-1"}, [(at, LOG_LINE)])))


def serve(
    stack: ExitStack,
    database_url: str,
    tmp_path: Path,
    connections: dict[str, Any],
    sources: dict[str, Any] | None = None,
) -> tuple[ServerProcess, httpx.Client, FakeSlack]:
    """`firebell serve` with the playbooks written under tmp_path/playbooks, and Slack."""
    slack = FakeSlack()
    stack.callback(slack.server.close)
    text = config(database_url, slack.base_url, connections, sources or {})
    server = ServerProcess(tmp_path, text, env=TOKENS)
    if not database_url.startswith("sqlite"):
        result = server.cli("db", "upgrade")
        assert result.returncode == 0, result.stderr
    stack.enter_context(server)
    http = stack.enter_context(httpx.Client(base_url=server.base_url, timeout=10))
    return server, http, slack


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    write_playbooks(tmp_path / "playbooks", ON_OPEN, MANUAL)
    with ExitStack() as stack:
        loki = stack.enter_context(start(loki_answer))
        connection = {"type": "loki", "url": loki.base_url, "allow_private": True,
                      "token": "${LOKI_TOKEN}"}  # fmt: skip
        server, http, slack = serve(stack, database_url, tmp_path, {"loki": connection})
        yield World(server, http, slack, loki)


def open_incident(http: httpx.Client, **labels: str) -> int:
    alert = am_alert("HighErrorRate")
    alert["labels"].update(labels)
    posted = http.post("/webhooks/alertmanager", content=am_webhook([alert]), headers=AM)
    assert posted.status_code == 202, posted.text
    (item,) = http.get("/api/v1/incidents", headers=API).json()["items"]
    return int(item["id"])


def timeline(http: httpx.Client, incident_id: int, kind: str) -> list[dict[str, Any]]:
    item = http.get(f"/api/v1/incidents/{incident_id}", headers=API).json()
    return [entry for entry in item["timeline"] if entry["kind"] == kind]


def runs_of(http: httpx.Client, incident_id: int) -> list[dict[str, Any]]:
    answer = http.get("/api/v1/playbook-runs", params={"incident_id": incident_id}, headers=API)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def thread(slack: FakeSlack) -> dict[str, str]:
    """Each thread reply's ts -> the text it shows now (its post, then its text edits).
    The fake answers the n-th chat.postMessage with ts 1700000000.00000n."""
    shown: dict[str, str] = {}
    for number, call in enumerate(slack.calls("/api/chat.postMessage"), 1):
        if "thread_ts" in call:
            shown[f"1700000000.{number:06d}"] = call["text"]
    for edit in slack.calls("/api/chat.update"):
        if "blocks" not in edit:
            assert edit["ts"] in shown, edit  # only replies are edited as text
            shown[edit["ts"]] = edit["text"]
    return shown


def finished(http: httpx.Client, incident_id: int, count: int) -> bool:
    runs = runs_of(http, incident_id)
    return len(runs) == count and all(run["status"] != "running" for run in runs)


def test_on_open_reads_loki_into_the_timeline_and_the_slack_thread(world: World) -> None:
    sent_after_ns = time.time_ns()
    incident_id = open_incident(world.http, pod=HOSTILE_POD)
    wait_for("the on_open run", lambda: finished(world.http, incident_id, 1), timeout=30)
    sent_before_ns = time.time_ns()

    # What firebell asked Loki: the hostile label stays one escaped LogQL string.
    (request,) = world.loki.requests
    assert (request.method, request.path) == ("GET", "/loki/api/v1/query_range")
    assert request.headers["authorization"] == f"Bearer {TOKENS['LOKI_TOKEN']}"
    query = {name: values[0] for name, values in request.query.items()}
    assert query.pop("query") == r'{app="api",pod="a\"} or {job=~\".+"} |= "error"'
    start_ns, end_ns = int(query.pop("start")), int(query.pop("end"))
    assert end_ns - start_ns == 30 * 60 * 10**9
    assert sent_after_ns - 10**9 <= end_ns <= sent_before_ns
    assert query == {"limit": "200", "direction": "backward"}

    (run,) = runs_of(world.http, incident_id)
    assert (run["playbook"], run["status"], run["started_by"]) == (
        "api-errors",
        "succeeded",
        "firebell",
    )
    steps = timeline(world.http, incident_id, "playbook_step")
    assert [entry["data"]["status"] for entry in steps] == ["running", "succeeded"]
    assert LOG_LINE in steps[-1]["data"]["excerpt"] and LOG_LINE in steps[-1]["message"]
    assert timeline(world.http, incident_id, "playbook_finished")

    # Slack: the incident message in #ops, and in its thread one progress reply per run,
    # posted at the run's first change seen and edited in place (chat.update) as it moves.
    def excerpt_in_thread() -> bool:
        return any(
            LOG_LINE in text and "— succeeded" in text for text in thread(world.slack).values()
        )

    wait_for("the progress reply showing the excerpt", excerpt_in_thread, timeout=60)
    incident_post, *replies = world.slack.calls("/api/chat.postMessage")
    assert incident_post["channel"] == "#ops" and "thread_ts" not in incident_post
    (reply,) = replies
    assert reply["channel"] == "C0OPS" and reply["thread_ts"] == "1700000000.000001"
    assert reply["text"].startswith(f"Playbook api-errors (run #{run['id']}")
    (shown,) = thread(world.slack).values()
    assert shown.startswith(f"Playbook api-errors (run #{run['id']}, started by firebell): loki ✓")
    assert TOKENS["LOKI_TOKEN"] not in world.server.log()


def test_a_signed_slack_button_click_starts_a_run_as_the_linked_user(world: World) -> None:
    incident_id = open_incident(world.http, pod="p-1")
    wait_for("the on_open run", lambda: finished(world.http, incident_id, 1), timeout=30)
    form = button_body(world.slack, "incident_run_playbook:api-manual", incident_id)
    # A click whose signature does not verify starts nothing.
    forged = signed(form, secret="not-the-signing-secret")
    assert world.http.post("/slack/events", content=form, headers=forged).status_code == 401
    clicked = world.http.post("/slack/events", content=form, headers=signed(form))
    assert clicked.status_code == 200, clicked.text
    wait_for("the manual run", lambda: finished(world.http, incident_id, 2), timeout=30)

    manual = next(r for r in runs_of(world.http, incident_id) if r["playbook"] == "api-manual")
    assert (manual["started_by"], manual["trigger"], manual["status"]) == (
        "alice",
        "manual",
        "succeeded",
    )
    wait_for("the answer to the click", lambda: bool(world.slack.responses()))
    (answer,) = world.slack.responses()
    assert f"started playbook api-manual run #{manual['id']}" in answer["text"]
    assert len(world.loki.requests) == 2
    assert world.loki.requests[-1].query["query"] == ['{app="api"}']
    detail = world.http.get(f"/api/v1/playbook-runs/{manual['id']}", headers=API).json()
    (step,) = detail["steps"]
    assert LOG_LINE in step["output"]["text"]


def test_dry_runs_from_rest_and_the_cli_send_nothing(database_url: str, tmp_path: Path) -> None:
    write_playbooks(tmp_path / "playbooks", API_5XX)
    with ExitStack() as stack:
        sides: FarSides = stack.enter_context(far_sides())
        server, http, slack = serve(stack, database_url, tmp_path, sides.connections())
        incident_id = open_incident(http)
        body = {"incident_id": incident_id, "playbook": "api-5xx", "dry_run": True,
                "params": {"window": "1h"}}  # fmt: skip
        answer = http.post("/api/v1/playbook-runs", json=body, headers=API)
        assert answer.status_code == 200, answer.text
        plan = answer.json()
        assert plan["sent"] == 0
        loki = next(step for step in plan["steps"] if step["id"] == "loki")
        assert loki["request"]["url"].startswith(sides.loki.base_url + "/loki/api/v1/query_range")
        assert loki["request"]["headers"]["Authorization"] == "***"

        cli = server.cli("playbook", "run", str(incident_id), "api-5xx", "--dry-run", "--as",
                         "alice", "--json")  # fmt: skip
        assert cli.returncode == 0, cli.stderr
        assert json.loads(cli.stdout)["sent"] == 0

        dry_runs = timeline(http, incident_id, "playbook_dry_run")
        assert [entry["actor"] for entry in dry_runs] == ["alice", "alice"]
        assert runs_of(http, incident_id) == []
        assert sides.requests() == 0  # not even the reads
        assert thread(slack) == {}  # no progress reply either
