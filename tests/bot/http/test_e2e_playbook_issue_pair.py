"""The issue's config pair end to end: it loads with `firebell check-config`, and the
api-5xx playbook runs in a real `firebell serve` against loopback Loki, Elasticsearch and
Sentry servers, a real log file and a real journal file (read by journalctl), on SQLite
and PostgreSQL; every step's output reads back through `firebell playbook logs` and
GET /api/v1/playbook-runs/{id}."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.bot.http.test_e2e_playbooks import API, open_incident, runs_of, serve
from tests.integrations.logs.test_elasticsearch import hits_answer
from tests.integrations.logs.test_loki import streams_answer
from tests.integrations.logs.test_sentry_event import event
from tests.playbooks.surface_support import API_5XX, write_playbooks
from tests.support.journal_export import export_field, write_journal
from tests.support.loopback_http import RecordedRequest, Reply, start
from tests.support.waiting import wait_for
from tests.support.webhook_payloads import sentry_headers, sentry_issue

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).parents[2] / "playbooks" / "fixtures"
ES_API_KEY = "ZXMtYXBpLWtleS1zZWNyZXQ="
SENTRY_TOKEN = "sntrys_issue-pair-token-0123"
SENTRY_SECRET = "sentry-client-secret-0123"
ISSUE_ID = "1170820242"
# One line each far side answers with, as each step's output shows it.
SHOWN = {
    "loki": "error: upstream timed out (loki)",
    "es": "error: connection reset (elasticsearch)",
    "file": "ERROR payment gateway answered 502",
    "journal": "[err] db timeout in checkout",
    "sentry": "KeyError: 'cart'",
    "report": "posted",
}


def test_the_issue_config_pair_passes_check_config(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES, tmp_path / "pair")
    env = {"ES_API_KEY": ES_API_KEY, "SENTRY_API_TOKEN": SENTRY_TOKEN, "PATH": "/usr/bin:/bin"}
    checked = subprocess.run(
        [sys.executable, "-m", "bot.cli", "check-config",
         str(tmp_path / "pair" / "firebell.yaml")],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "playbooks: ./playbooks: 1: api-5xx (manual)" in checked.stdout
    assert ES_API_KEY not in checked.stdout and SENTRY_TOKEN not in checked.stdout


def loki(request: RecordedRequest) -> Reply:
    at = time.time_ns() - 60 * 10**9
    return Reply.json(streams_answer(({"app": "api"}, [(at, SHOWN["loki"])])))


def elasticsearch(request: RecordedRequest) -> Reply:
    source = {"@timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "message": SHOWN["es"], "log": {"level": "error"}}  # fmt: skip
    return Reply.json(hits_answer([{"_index": "logs-api", "_source": source}]))


def sentry(request: RecordedRequest) -> Reply:
    return Reply.json(event(groupID=ISSUE_ID))


def journal_file(folder: Path) -> Path:
    """A journal with an api.service error a minute ago (and an info line, filtered out)."""
    export = bytearray()
    for seconds_ago, priority, message in ((90, 6, "started"), (60, 3, "db timeout in checkout")):
        micros = str(int((time.time() - seconds_ago) * 1_000_000))
        for name, value in (("__REALTIME_TIMESTAMP", micros), ("__MONOTONIC_TIMESTAMP", micros),
                            ("_BOOT_ID", "0123456789abcdef0123456789abcdef"),
                            ("_SYSTEMD_UNIT", "api.service"), ("PRIORITY", str(priority)),
                            ("MESSAGE", message)):  # fmt: skip
            export += export_field(name, value)
        export += b"\n"
    return write_journal(folder / "api.journal", bytes(export))


def test_the_issue_playbook_runs_every_log_store(database_url: str, tmp_path: Path) -> None:
    logs = tmp_path / "var-log-api"
    logs.mkdir()
    (logs / "app.log").write_text(f"INFO ok\n{SHOWN['file']}\nINFO ok again\n")
    journal = journal_file(tmp_path)
    playbook = API_5XX.replace("/var/log/api/app.log", str(logs / "app.log"))
    write_playbooks(tmp_path / "playbooks", playbook)
    with ExitStack() as stack:
        far = {name: stack.enter_context(start(handler)) for name, handler in
               (("loki", loki), ("es", elasticsearch), ("sentry", sentry))}  # fmt: skip
        connections: dict[str, Any] = {
            "loki": {"type": "loki", "url": far["loki"].base_url, "allow_private": True},
            "es": {"type": "elasticsearch", "url": far["es"].base_url, "index": "logs-*",
                   "api_key": ES_API_KEY, "allow_private": True},
            "sentry": {"type": "sentry", "url": far["sentry"].base_url, "organization": "acme",
                       "token": SENTRY_TOKEN, "allow_private": True},
            "applogs": {"type": "files", "paths": [f"{logs}/*.log"]},
            "journal": {"type": "journald", "file": str(journal)},
        }  # fmt: skip
        sources = {"sentry": {"client_secret": SENTRY_SECRET, "services": {"backend": "api"}}}
        server, http, slack = serve(stack, database_url, tmp_path, connections, sources)
        body = sentry_issue("created", issue_id=ISSUE_ID)
        posted = http.post("/webhooks/sentry", content=body,
                           headers=sentry_headers(body, SENTRY_SECRET))  # fmt: skip
        assert posted.status_code == 202, posted.text
        incident_id = open_incident(http)  # the Alertmanager alert joins the Sentry incident
        # chat.post replies under the incident message: wait until the outbox posted it.
        wait_for("the incident message", lambda: bool(slack.calls("/api/chat.postMessage")))

        start_run = {"incident_id": incident_id, "playbook": "api-5xx", "params": {"window": "1h"}}
        started = http.post("/api/v1/playbook-runs", json=start_run, headers=API)
        assert started.status_code == 201, started.text
        run_id = started.json()["id"]

        def done() -> bool:
            return bool(runs_of(http, incident_id)[0]["status"] != "running")

        wait_for("the run", done, timeout=60)
        run = http.get(f"/api/v1/playbook-runs/{run_id}", headers=API).json()
        statuses = {step["step_id"]: step["status"] for step in run["steps"]}
        assert run["status"] == "succeeded", run
        assert statuses == dict.fromkeys(SHOWN, "succeeded")
        assert run["started_by"] == "alice"
        for step in run["steps"][:-1]:  # the report step posts; it has no log lines
            assert SHOWN[step["step_id"]] in step["output"]["text"], step
        every = server.cli("playbook", "logs", str(run_id))
        assert every.returncode == 0, every.stderr
        one = server.cli("playbook", "logs", str(run_id), "journal")
        assert one.returncode == 0, one.stderr
        for step_id, shown in SHOWN.items():
            if step_id != "report":
                assert shown in every.stdout, (step_id, every.stdout)
                assert (shown in one.stdout) == (step_id == "journal"), one.stdout

        # Each far side was asked once, with its credential; nothing else was sent.
        assert [len(side.requests) for side in far.values()] == [1, 1, 1]
        assert far["es"].requests[0].headers["authorization"] == f"ApiKey {ES_API_KEY}"
        assert far["es"].requests[0].path == "/logs-*/_search"
        assert far["sentry"].requests[0].path == (
            f"/api/0/organizations/acme/issues/{ISSUE_ID}/events/latest/"
        )
        # The report step's text (the run's summary) went into the incident's thread.
        replies = [c for c in slack.calls("/api/chat.postMessage") if c.get("thread_ts")]
        assert any("loki" in c["text"] and "journal" in c["text"] for c in replies), replies
        for secret in (ES_API_KEY, SENTRY_TOKEN):
            assert secret not in server.log() and secret not in str(run)
