"""The issue's approved hotfix end to end with a real `firebell serve`, on SQLite and
PostgreSQL: an Alertmanager alert opens an incident, a signed `/incident run ID
api-hotfix` starts the issue's playbook, the staging repro runs on a loopback GitHub,
the approval request with Approve / Reject shows in the incident's Slack thread (a
loopback Web API), the requester's own click is refused, two linked approvers click,
the hotfix builds on a loopback Jenkins and a signed webhook reports it: success on the
timeline and in the thread, and exactly what firebell sent to each CI."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.bot.chat.test_slack import FakeSlack, signed, slash_body
from tests.bot.http.test_e2e_playbooks import API, TOKENS, config, open_incident, timeline
from tests.support.chat_harness import ALICE_SLACK, BOB_SLACK
from tests.support.loopback_ci import (
    FakeGitHub,
    FakeGitLab,
    FakeJenkins,
    FakeWebhook,
    webhook_signature_ok,
)
from tests.support.server_process import ServerProcess
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow

CAROL_SLACK = "U0CAROL"
SLACK_IDS = {"alice": ALICE_SLACK, "bob": BOB_SLACK, "carol": CAROL_SLACK}
CI_SECRETS = {
    "GITHUB_TOKEN": "ghp_e2e-token-0123456789",
    "GITLAB_TRIGGER_TOKEN": "glptt-e2e-trigger-0123",
    "GITLAB_API_TOKEN": "glpat-e2e-api-0123",
    "JENKINS_API_TOKEN": "11e2e-jenkins-token-0123",
    "DEPLOY_HOOK_SECRET": "whsec-e2e-deploy-0123",
}
# The playbook, exactly.
API_HOTFIX = """\
id: api-hotfix
description: Reproduce on staging, then an approved hotfix deploy
match: ['service="api"']
params:
  ref: {type: string, default: main, pattern: '^[A-Za-z0-9._/-]{1,100}$'}
steps:
  - id: repro
    uses: ci.github
    with: {connection: github, repo: acme/api, workflow: repro-staging.yml, ref: "{{ params.ref }}",
           inputs: {incident: "{{ incident.id }}"}}
    wait: {timeout: 30m}
  - id: repro-gitlab
    uses: ci.gitlab
    if: "false"                    # shown for the format; GitLab pipelines are triggered the same way
    with: {connection: gitlab, ref: "{{ params.ref }}", variables: {INCIDENT: "{{ incident.id }}"}}
    wait: {timeout: 30m}
  - id: hotfix
    uses: ci.jenkins
    if: "steps.repro.conclusion == 'success'"
    with: {connection: jenkins, job: "api/hotfix-deploy", parameters: {REF: "{{ params.ref }}"}}
    approval: {approvers: ["team:backend"], required: 2, expires_in: 45m}
    wait: {timeout: 20m}
  - id: notify
    uses: ci.webhook
    always: true
    with: {connection: deployhook, body: {incident: "{{ incident.id }}", outcome: "{{ run.status }}"}}
"""  # noqa: E501


@dataclass
class Fakes:
    github: FakeGitHub
    gitlab: FakeGitLab
    jenkins: FakeJenkins
    hook: FakeWebhook

    def connections(self) -> dict[str, Any]:
        """The issue's connections, pointed at the fakes, credentials from the environment."""
        return {
            "github": self.github.connection(token="${GITHUB_TOKEN}"),
            "gitlab": self.gitlab.connection(
                trigger_token="${GITLAB_TRIGGER_TOKEN}", api_token="${GITLAB_API_TOKEN}"
            ),
            "jenkins": self.jenkins.connection(api_token="${JENKINS_API_TOKEN}"),
            "deployhook": self.hook.connection(secret="${DEPLOY_HOOK_SECRET}"),
        }


def open_fakes(stack: ExitStack) -> Fakes:
    s = CI_SECRETS
    return Fakes(
        stack.enter_context(FakeGitHub(token=s["GITHUB_TOKEN"])),
        stack.enter_context(
            FakeGitLab(trigger_token=s["GITLAB_TRIGGER_TOKEN"], api_token=s["GITLAB_API_TOKEN"])
        ),
        stack.enter_context(FakeJenkins(api_token=s["JENKINS_API_TOKEN"])),
        stack.enter_context(FakeWebhook(secret=s["DEPLOY_HOOK_SECRET"])),
    )


def hotfix_config(database_url: str, slack_url: str, connections: dict[str, Any]) -> str:
    """Part 1's e2e config with alice, bob and carol linked in Slack and team backend."""
    data = json.loads(config(database_url, slack_url, connections, {}))
    data["users"] = [
        {"name": name, "slack_id": slack_id, "role": "responder"}
        for name, slack_id in SLACK_IDS.items()
    ]
    data["teams"].append({"name": "backend", "members": ["alice", "bob", "carol"]})
    return json.dumps(data, indent=1)


def start_server(
    stack: ExitStack, database_url: str, tmp_path: Path, fakes: Fakes, name: str = "server"
) -> tuple[ServerProcess, httpx.Client, FakeSlack]:
    slack = FakeSlack()
    stack.callback(slack.server.close)
    text = hotfix_config(database_url, slack.base_url, fakes.connections())
    server = ServerProcess(tmp_path, text, env={**TOKENS, **CI_SECRETS}, name=name)
    if not database_url.startswith("sqlite"):
        result = server.cli("db", "upgrade")
        assert result.returncode == 0, result.stderr
    stack.enter_context(server)
    http = stack.enter_context(httpx.Client(base_url=server.base_url, timeout=10))
    return server, http, slack


def posted(slack: FakeSlack) -> list[tuple[str, dict[str, Any]]]:
    """(ts, body) of every chat.postMessage: the fake answers the n-th with ts …00000n."""
    calls = slack.calls("/api/chat.postMessage")
    return [(f"1700000000.{n:06d}", call) for n, call in enumerate(calls, 1)]


def approval_message(slack: FakeSlack) -> tuple[str, dict[str, Any]] | None:
    found = [(ts, c) for ts, c in posted(slack) if c["text"].startswith("Approval needed")]
    return found[0] if found else None


def shown_now(slack: FakeSlack, ts: str) -> str:
    """What the message `ts` shows after its edits."""
    text = next(call["text"] for at, call in posted(slack) if at == ts)
    for edit in slack.calls("/api/chat.update"):
        text = edit["text"] if edit["ts"] == ts else text
    return text


def press(slack: FakeSlack, ts: str, button: dict[str, Any], user: str) -> str:
    """A block_actions payload as Slack sends it when `user` presses `button` on `ts`."""
    payload = {
        "type": "block_actions",
        "user": {"id": SLACK_IDS[user], "username": user, "name": user, "team_id": "T111"},
        "api_app_id": "A111",
        "token": "verification_token",
        "container": {"type": "message", "message_ts": ts, "channel_id": "C0OPS",
                      "is_ephemeral": False},
        "trigger_id": "111.222.valid",
        "team": {"id": "T111", "domain": "workspace-domain"},
        "channel": {"id": "C0OPS", "name": "ops"},
        "response_url": f"{slack.base_url}/respond/actions/T111/1/{user}",
        "actions": [{**button, "block_id": "approval", "action_ts": "1700000001.000100"}],
    }  # fmt: skip
    return urlencode({"payload": json.dumps(payload)})


def click(http: httpx.Client, slack: FakeSlack, ts: str, button: dict[str, Any], who: str) -> str:
    """Press, then the ephemeral answer the presser got."""
    before = len(slack.responses())
    form = press(slack, ts, button, who)
    assert http.post("/slack/events", content=form, headers=signed(form)).status_code == 200
    wait_for(f"the answer to {who}", lambda: len(slack.responses()) > before, timeout=15)
    text: str = slack.responses()[-1]["text"]
    return text


def run_detail(http: httpx.Client, run_id: int) -> dict[str, Any]:
    answer = http.get(f"/api/v1/playbook-runs/{run_id}", headers=API)
    assert answer.status_code == 200, answer.text
    detail: dict[str, Any] = answer.json()
    return detail


def wait_logged(
    server: ServerProcess, what: str, check: Callable[[], bool], timeout: float
) -> None:
    """wait_for, failing with the server's log tail (a real process hides its reasons)."""
    try:
        wait_for(what, check, timeout)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; server log:\n{server.log()[-6000:]}") from None


@pytest.fixture
def fakes() -> Iterator[Fakes]:
    with ExitStack() as stack:
        yield open_fakes(stack)


def test_alert_to_approved_hotfix_through_github_slack_and_jenkins(
    database_url: str, tmp_path: Path, fakes: Fakes
) -> None:
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "api-hotfix.yaml").write_text(API_HOTFIX)
    with ExitStack() as stack:
        server, http, slack = start_server(stack, database_url, tmp_path, fakes)
        incident_id = open_incident(http)
        wait_for("the incident message", lambda: bool(posted(slack)), timeout=30)
        (incident_ts, incident_post), *_ = posted(slack)
        assert incident_post["channel"] == "#ops"

        form = slash_body(slack, f"run {incident_id} api-hotfix")
        assert http.post("/slack/events", content=form, headers=signed(form)).status_code == 200
        wait_for("the command's answer", lambda: bool(slack.responses()), timeout=15)
        answer = slack.responses()[0]["text"]
        assert answer.startswith("started playbook api-hotfix run #"), answer
        run_id = int(answer.split("#")[1].split()[0])

        # The staging repro ran on GitHub, then the request waits in the thread.
        wait_logged(server, "the approval request", lambda: approval_message(slack) is not None, 60)
        request_ts, request = approval_message(slack) or ("", {})
        (dispatch,) = fakes.github.dispatches
        assert dispatch.path == "/repos/acme/api/actions/workflows/repro-staging.yml/dispatches"
        assert dispatch.headers["authorization"] == f"Bearer {CI_SECRETS['GITHUB_TOKEN']}"
        assert dispatch.headers["accept"] == "application/vnd.github+json"
        assert dispatch.headers["x-github-api-version"] == "2022-11-28"
        assert dispatch.json() == {
            "ref": "main",
            "inputs": {"incident": str(incident_id), "firebell_run_id": f"fb-{run_id}-repro"},
            "return_run_details": True,
        }
        assert fakes.jenkins.requests == [] and fakes.gitlab.requests == []
        assert (request["channel"], request["thread_ts"]) == ("C0OPS", incident_ts)
        text = request["text"]
        assert text.startswith(f"Approval needed: playbook api-hotfix, step hotfix (run #{run_id}")
        assert "/job/api/job/hotfix-deploy/buildWithParameters" in text
        assert "Who may approve: team:backend (bob, carol)" in text
        assert "Approvals: 0 of 2" in text
        approve, reject = request["blocks"][1]["elements"]
        assert (approve["action_id"], reject["action_id"]) == (
            "playbook_approve",
            "playbook_reject",
        )
        assert run_detail(http, run_id)["status"] == "running"

        refused = click(http, slack, request_ts, approve, "alice")
        assert refused.startswith("alice started this run and cannot decide its approval")
        assert "bob, carol" in refused
        assert click(http, slack, request_ts, approve, "bob").endswith("(1 of 2 approvals)")
        assert fakes.jenkins.dispatches == []  # one approval of two runs nothing
        assert "approved by carol" in click(http, slack, request_ts, approve, "carol")

        def finished() -> bool:
            return bool(run_detail(http, run_id)["status"] != "running")

        wait_logged(server, "the run to finish", finished, timeout=60)
        run = run_detail(http, run_id)
        statuses = {s["step_id"]: s["status"] for s in run["steps"]}
        assert (run["status"], run["started_by"]) == ("succeeded", "alice"), server.log()
        assert statuses == {"repro": "succeeded", "repro-gitlab": "skipped",
                            "hotfix": "succeeded", "notify": "succeeded"}  # fmt: skip

        # Jenkins: one build with the API token and the run's unique parameter.
        (build,) = fakes.jenkins.dispatches
        assert build.path == "/job/api/job/hotfix-deploy/buildWithParameters"
        basic = base64.b64encode(f"firebell:{CI_SECRETS['JENKINS_API_TOKEN']}".encode())
        assert build.headers["authorization"] == "Basic " + basic.decode()
        params = {key: values[-1] for key, values in build.query.items()}
        assert params == {"REF": "main", "FIREBELL_RUN_ID": f"fb-{run_id}-hotfix"}
        # The webhook: signed as the README documents, once, with the run's envelope.
        (hook,) = fakes.hook.dispatches
        assert webhook_signature_ok(CI_SECRETS["DEPLOY_HOOK_SECRET"], hook, datetime.now(UTC))
        assert hook.headers["idempotency-key"] == f"fb-{run_id}-notify"
        envelope = hook.json()
        assert (envelope["run_id"], envelope["playbook"], envelope["step"]) == (
            run_id,
            "api-hotfix",
            "notify",
        )
        assert envelope["incident"]["id"] == incident_id
        # run.status while the run goes on: running (failing after a failure, cancelling).
        assert envelope["body"] == {"incident": str(incident_id), "outcome": "running"}
        assert fakes.hook.duplicates == 0 and fakes.hook.rejected == 0

        # The timeline: who approved, the CI runs and the success.
        decisions = timeline(http, incident_id, "playbook_approval")
        assert sorted(entry["actor"] for entry in decisions) == ["bob", "carol"]
        steps = timeline(http, incident_id, "playbook_step")
        messages = "\n".join(entry["message"] for entry in steps)
        assert fakes.github.runs[0].correlation == f"fb-{run_id}-repro"
        assert f"/acme/api/actions/runs/{fakes.github.runs[0].id}" in messages
        assert "SUCCESS" in messages.upper() and "approved by bob" in messages
        (done,) = timeline(http, incident_id, "playbook_finished")
        assert "succeeded" in done["message"]

        # The thread: the request now says approved (no buttons), the progress says done.
        def thread_shows_success() -> bool:
            replies = [shown_now(slack, ts) for ts, c in posted(slack) if c.get("thread_ts")]
            return any("— succeeded" in text for text in replies)

        wait_for("success in the thread", thread_shows_success, timeout=30)
        final = shown_now(slack, request_ts)
        assert final.startswith("Approval approved"), final
        assert "bob" in final and "carol" in final
        log = server.log()
        for secret in CI_SECRETS.values():
            assert secret not in log, secret
            assert secret not in json.dumps(run) and secret not in json.dumps(slack.calls(
                "/api/chat.postMessage"))  # fmt: skip
