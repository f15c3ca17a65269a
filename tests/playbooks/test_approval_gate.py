"""The approval gate on SQLite and PostgreSQL: a staging repro on a loopback GitHub, then
a Jenkins deploy that waits for two approvals (the requester never counts), rejects,
expires (after a reminder), is voided by a changed playbook file, is cancelled; what
check-config refuses (wait on a read, unknown approvers) and what a dry-run shows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from playbooks import run_store
from playbooks.approval_gate import ApprovalGate
from playbooks.catalog import PlaybookErrors, load_catalog
from playbooks.dry_run import plan_steps
from tests.playbooks.remote_support import PEOPLE, CiHarness, ci_connections
from tests.playbooks.run_support import Loki, loki_connection
from tests.support.loopback_ci import FakeGitHub, FakeJenkins
from tests.support.loopback_http import start

HOTFIX = """\
id: hotfix
description: Reproduce on staging, then an approved hotfix deploy
steps:
  - id: repro
    uses: ci.github
    with: {connection: github, repo: acme/api, workflow: repro-staging.yml, ref: main}
    wait: {timeout: 30m}
  - id: deploy
    uses: ci.jenkins
    if: "steps.repro.conclusion == 'success'"
    with: {connection: jenkins, job: "api/hotfix-deploy", parameters: {REF: main}}
    approval: {approvers: ["team:backend"], required: 2, expires_in: 45m, show: [repro]}
    wait: {timeout: 20m}
"""


@pytest.fixture
def harness(engine: Engine, tmp_path: Path) -> Iterator[CiHarness]:
    with FakeGitHub() as github, FakeJenkins() as jenkins:
        yield CiHarness(engine, tmp_path / "pb", [HOTFIX], github=github, jenkins=jenkins)


def awaiting(h: CiHarness, run_id: int) -> int:
    """Drive the repro to success and the deploy into awaiting_approval; the run id."""
    h.drive(run_id, lambda run: run["steps"][1]["status"] == "awaiting_approval")
    return run_id


def test_two_approvers_but_never_the_requester_then_jenkins_runs(harness: CiHarness) -> None:
    h = harness
    run_id = awaiting(h, h.start("hotfix", actor="alice"))
    step = h.step(run_id, "deploy")
    assert step["approval_expires_at"] == h.clock() + timedelta(minutes=45)
    assert len(step["request_hash"]) == 64 and step["request"]["method"] == "POST"
    asked = [x for x in h.timeline() if x.startswith("deploy: approval requested from")]
    assert asked and asked[0].startswith("deploy: approval requested from bob, carol (2 of 2)")
    jenkins = h.fakes["jenkins"]
    h.decide(run_id, "deploy", "alice")  # started the run: never counts
    h.decide(run_id, "deploy", "bob")
    h.due()
    assert h.step(run_id, "deploy")["status"] == "awaiting_approval"
    assert jenkins.dispatches == []
    h.clock.advance(minutes=1)
    h.decide(run_id, "deploy", "carol")
    h.drive(run_id, lambda run: run["status"] != "running")
    step = h.step(run_id, "deploy")
    assert (step["status"], step["conclusion"]) == ("succeeded", "success")
    assert h.run(run_id)["status"] == "succeeded"
    assert len(jenkins.dispatches) == 1
    started = [x for x in h.timeline() if x.startswith("deploy: approved by bob")]
    assert started and ", carol (" in started[0] and "dispatching POST" in started[0]


def test_one_reject_rejects_the_step_and_fails_the_run(harness: CiHarness) -> None:
    h = harness
    run_id = awaiting(h, h.start("hotfix", actor="alice"))
    h.decide(run_id, "deploy", "bob", "rejected")
    h.due()
    step = h.step(run_id, "deploy")
    assert step["status"] == "rejected" and h.run(run_id)["status"] == "failed"
    assert step["summary"].startswith("rejected by bob at ") and "bob says so" in step["summary"]
    assert h.fakes["jenkins"].dispatches == []


def test_expiry_after_a_reminder_is_expired_not_rejected(harness: CiHarness) -> None:
    h = harness
    run_id = awaiting(h, h.start("hotfix", actor="alice"))
    h.decide(run_id, "deploy", "bob")
    h.clock.advance(minutes=36)  # the reminder: a fifth of 45m before the end
    h.due()
    step = h.step(run_id, "deploy")
    assert step["reminded_at"] == h.clock() and step["status"] == "awaiting_approval"
    assert any(x.startswith("deploy: approval reminder: expires") for x in h.timeline())
    h.clock.advance(minutes=9)
    h.due()
    step = h.step(run_id, "deploy")
    assert step["status"] == "expired" and h.run(run_id)["status"] == "failed"
    assert "(1 of 2 approvals); it was not run" in step["summary"]
    assert h.fakes["jenkins"].dispatches == []


def test_a_changed_playbook_file_voids_the_approval_and_asks_again(harness: CiHarness) -> None:
    h = harness
    run_id = awaiting(h, h.start("hotfix", actor="alice"))
    first = h.step(run_id, "deploy")["request_hash"]
    h.decide(run_id, "deploy", "bob")
    h.decide(run_id, "deploy", "carol")
    path = h.folder / "hotfix.yaml"
    path.write_text(path.read_text().replace("an approved hotfix", "a hotfix approved"))
    h.due()
    step = h.step(run_id, "deploy")
    assert h.reloads == 1 and step["status"] == "awaiting_approval"
    assert step["request_hash"] != first
    assert any(x.startswith("deploy: approval void: the request changed") for x in h.timeline())
    assert h.fakes["jenkins"].dispatches == []
    h.decide(run_id, "deploy", "bob")  # bound to the new request now
    h.decide(run_id, "deploy", "carol")
    h.drive(run_id, lambda run: run["status"] != "running")
    assert len(h.fakes["jenkins"].dispatches) == 1


def test_a_decision_landing_while_the_gate_parks_is_not_lost(
    harness: CiHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last approval commits after the gate read the decisions but before it parks
    the step: parking must not push the run's next pass out to the reminder."""
    h = harness
    run_id = awaiting(h, h.start("hotfix", actor="alice"))
    h.decide(run_id, "deploy", "bob")
    pending = ApprovalGate._pending

    async def carol_decides_meanwhile(gate: ApprovalGate, *args: Any, **kwargs: Any) -> bool:
        h.decide(run_id, "deploy", "carol")
        monkeypatch.setattr(ApprovalGate, "_pending", pending)
        return await pending(gate, *args, **kwargs)

    monkeypatch.setattr(ApprovalGate, "_pending", carol_decides_meanwhile)
    h.due()  # read: bob only (pending); carol lands; parked
    assert h.step(run_id, "deploy")["status"] == "awaiting_approval"
    assert h.run(run_id)["due_at"] <= h.clock()
    h.due()  # at once, not at the reminder 36 minutes later
    assert len(h.fakes["jenkins"].dispatches) == 1


def test_cancel_while_awaiting_approval(harness: CiHarness) -> None:
    h = harness
    run_id = awaiting(h, h.start("hotfix", actor="alice"))
    with h.engine.begin() as conn:
        run_store.request_cancel(conn, run_id, "bob", h.clock())
    h.due()
    step = h.step(run_id, "deploy")
    assert step["status"] == "cancelled" and h.run(run_id)["status"] == "cancelled"
    assert step["summary"] == "cancelled by bob before it was approved"


def test_check_config_refuses_wait_on_a_read_timeout_on_ci_and_unknown_approvers(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "pb"
    folder.mkdir()
    (folder / "bad.yaml").write_text(
        """\
id: bad
steps:
  - id: a
    uses: chat.post
    with: {text: hi}
    wait: {timeout: 5m}
  - id: b
    uses: chat.post
    with: {text: hi}
    approval: {approvers: ["team:frontend", "user:zed", "oncall:primary"], show: [c]}
  - id: c
    uses: chat.post
    with: {text: hi}
  - id: d
    uses: ci.github
    with: {connection: github, repo: acme/api, workflow: repro.yml, ref: main}
    timeout: 5m
"""
    )
    with pytest.raises(PlaybookErrors) as caught:
        load_catalog(folder, {}, (), people=PEOPLE)
    problems = "\n".join(caught.value.problems)
    assert "steps[0].wait: chat.post cannot wait (only remote actions can: ci.github" in problems
    assert 'steps[1].approval.approvers[0]: unknown team "frontend" (teams: backend)' in problems
    assert 'steps[1].approval.approvers[1]: unknown user "zed"' in problems
    assert 'approvers[2]: unknown oncall "primary" (schedules: none configured)' in problems
    assert 'steps[1].approval.show[0]: "c" is not an earlier step' in problems
    assert "steps[3].timeout: ci.github does not use it (each call has the connection" in problems


def test_dry_run_says_who_would_be_asked_and_shows_the_request(tmp_path: Path) -> None:
    with FakeGitHub() as github, FakeJenkins() as jenkins:
        folder = tmp_path / "pb"
        folder.mkdir()
        (folder / "hotfix.yaml").write_text(HOTFIX)
        connections = ci_connections(github=github, jenkins=jenkins)
        catalog = load_catalog(folder, connections, (), people=PEOPLE)
        incident = {"id": 7, "labels": {"service": "api"}, "title": "t"}
        now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
        plans = plan_steps(catalog.playbooks["hotfix"], catalog, incident, {}, "carol", now)
        assert github.requests == [] and jenkins.requests == []
    deploy = plans[1].shown()
    assert deploy["approval"] == {
        "asks": ["alice", "bob"], "required": 2, "expires_in": "45m", "show": ["repro"],
    }  # fmt: skip
    assert deploy["wait"] == "20m"
    assert "would ask alice, bob (2 of 2) to approve this request" in deploy["note"]
    assert deploy["request"]["method"] == "POST"
    assert "hotfix-deploy" in deploy["request"]["url"]
    assert "11fake-api-token" not in str(deploy)


def test_a_request_showing_log_lines_stays_bound_across_passes(
    engine: Engine, tmp_path: Path
) -> None:
    """The request hash of the pass that asks equals the next pass's (which reads rows)."""
    shows = """\
id: shows
steps:
  - id: look
    uses: logs.loki
    with: {connection: loki, selector: {step: look}}
  - id: deploy
    uses: ci.github
    with: {connection: github, repo: acme/api, workflow: deploy.yml, ref: main}
    approval: {approvers: ["user:bob"], show: [look]}
"""

    class LokiFake:
        def __init__(self, url: str) -> None:
            self.url = url

        def connection(self) -> dict[str, object]:
            return loki_connection(self.url)

    with start(Loki()) as loki, FakeGitHub() as github:
        h = CiHarness(engine, tmp_path / "pb", [shows], github=github, loki=LokiFake(loki.base_url))
        run_id = h.start("shows", actor="alice")
        h.due()
        step = h.step(run_id, "deploy")
        assert step["status"] == "awaiting_approval"
        assert "error in look" in h.step(run_id, "look")["excerpt"]
        h.decide(run_id, "deploy", "bob")
        h.due()
        assert not any("approval void" in line for line in h.timeline())
        assert len(github.dispatches) == 1
