"""Remote (CI) steps on SQLite and PostgreSQL against Q's loopback CIs: dispatch exactly
once (a dropped answer is found by correlation id, an intent a dead worker left is never
sent again, two workers send once), wait to a conclusion, wait timeout, rate-limit
backoff, cancel reaching the CI, the timeline's link and status lines."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.chat.playbook_progress import progress_text
from playbooks import run_store
from tests.playbooks.remote_support import CiHarness
from tests.support.loopback_ci import (
    DROP,
    Created,
    FakeGitHub,
    FakeGitLab,
    FakeJenkins,
    FakeWebhook,
)
from tests.support.loopback_http import RecordedRequest, Reply

REPRO = """\
id: repro
steps:
  - id: repro
    uses: ci.github
    with: {connection: github, repo: acme/api, workflow: repro-staging.yml, ref: main,
           inputs: {incident: "{{ incident.id }}"}}
    wait: {timeout: 30m}
"""

FIRE_AND_FORGET = """\
id: kick
steps:
  - id: kick
    uses: ci.github
    with: {connection: github, repo: acme/api, workflow: repro-staging.yml, ref: main}
"""


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        yield fake


def finished(run: dict[str, object]) -> bool:
    return run["status"] != "running"


def test_a_github_run_is_followed_to_success_with_its_link_on_the_timeline(
    engine: Engine, github: FakeGitHub, tmp_path: Path
) -> None:
    h = CiHarness(engine, tmp_path / "pb", [REPRO], github=github)
    run_id = h.start("repro")
    h.drive(run_id, finished)
    step = h.step(run_id, "repro")
    assert h.run(run_id)["status"] == "succeeded"
    assert (step["status"], step["dispatch"], step["conclusion"]) == (
        "succeeded",
        "sent",
        "success",
    )
    assert step["correlation_id"] == f"fb-{run_id}-repro"
    assert step["facts"]["conclusion"] == "success" and step["facts"]["url"] == step["remote_url"]
    assert len(github.dispatches) == 1
    assert github.runs[0].params["firebell_run_id"] == f"fb-{run_id}-repro"
    assert github.runs[0].params["incident"] == str(h.incident)
    lines = h.timeline()
    assert any(line.startswith("repro: started: dispatching POST") for line in lines)
    assert any("CI run in_progress: " + step["remote_url"] in line for line in lines)
    assert lines[-1] == f"repro: finished: success: {step['remote_url']}"
    assert "ghp_fake-token" not in str(step["request"]) and "ghp_fake-token" not in str(lines)


def test_a_dispatch_whose_answer_never_arrives_is_found_by_correlation_id_not_sent_again(
    engine: Engine, github: FakeGitHub, tmp_path: Path
) -> None:
    h = CiHarness(engine, tmp_path / "pb", [REPRO], github=github)
    github.script_dispatch(DROP)  # the run is created, the connection closes unanswered
    run_id = h.start("repro")
    h.due()
    step = h.step(run_id, "repro")
    assert (step["status"], step["dispatch"]) == ("waiting", "unknown")
    h.drive(run_id, finished)
    step = h.step(run_id, "repro")
    assert (step["status"], step["dispatch"]) == ("succeeded", "sent")
    assert step["remote_id"].endswith(str(github.runs[0].id))
    assert len(github.dispatches) == 1
    lines = h.timeline()
    assert any("dispatch outcome unknown" in line and "not sent again" in line for line in lines)
    assert any(line.startswith("repro: found the run by its correlation id") for line in lines)


def test_an_intent_left_by_a_dead_worker_is_looked_up_never_sent_again(
    engine: Engine, github: FakeGitHub, tmp_path: Path
) -> None:
    """The worker dies between committing the intent and storing the answer (its task
    cut off mid-request, as kill -9 would): the next worker finds the run."""
    h = CiHarness(engine, tmp_path / "pb", [REPRO], github=github)
    arrived, release = threading.Event(), threading.Event()
    original = github.route

    def slow(request: RecordedRequest) -> Reply:
        reply = original(request)
        if github.is_dispatch(request):
            arrived.set()
            release.wait(10)
        return reply

    github.route = slow  # type: ignore[method-assign]
    run_id = h.start("repro")

    async def die_mid_dispatch() -> None:
        runner = h.runner()
        task = asyncio.create_task(runner.run_due("dead"))
        await asyncio.to_thread(arrived.wait, 10)
        task.cancel()  # nothing after the send runs: the answer is never stored
        await asyncio.gather(task, return_exceptions=True)
        await runner.io.outbound.aclose()

    asyncio.run(die_mid_dispatch())
    release.set()
    step = h.step(run_id, "repro")
    assert (step["status"], step["dispatch"]) == ("running", "intent")
    h.clock.advance(minutes=1)  # the dead worker's lease runs out
    h.drive(run_id, finished)
    assert h.step(run_id, "repro")["status"] == "succeeded"
    assert len(github.dispatches) == 1
    assert any(
        "resumed after a restart: the dispatch may have been sent" in x for x in h.timeline()
    )


def test_two_workers_at_once_dispatch_once(
    engine: Engine, github: FakeGitHub, tmp_path: Path
) -> None:
    h = CiHarness(engine, tmp_path / "pb", [REPRO], github=github)
    run_id = h.start("repro")

    async def both() -> None:
        runners = [h.runner(), h.runner()]
        await asyncio.gather(runners[0].run_due("w1"), runners[1].run_due("w2"))
        for runner in runners:
            await runner.io.outbound.aclose()

    asyncio.run(both())
    h.drive(run_id, finished)
    assert len(github.dispatches) == 1
    assert h.run(run_id)["status"] == "succeeded"


def test_without_wait_the_step_succeeds_once_dispatched(
    engine: Engine, github: FakeGitHub, tmp_path: Path
) -> None:
    h = CiHarness(engine, tmp_path / "pb", [FIRE_AND_FORGET], github=github)
    run_id = h.start("kick")
    h.due()
    step = h.step(run_id, "kick")
    assert (step["status"], step["dispatch"], h.run(run_id)["status"]) == (
        "succeeded", "sent", "succeeded",
    )  # fmt: skip
    assert step["summary"] == f"dispatched: {step['remote_url']}"
    assert github.runs[0].polls == 0


def test_wait_timeout_ends_the_step_timed_out(engine: Engine, tmp_path: Path) -> None:
    with FakeGitHub(sequence=[("in_progress", None)]) as github:
        h = CiHarness(engine, tmp_path / "pb", [REPRO], github=github)
        run_id = h.start("repro")
        h.due()
        h.clock.advance(minutes=29)
        h.due()
        assert h.step(run_id, "repro")["status"] == "waiting"
        h.clock.advance(minutes=2)
        h.due()
    step = h.step(run_id, "repro")
    assert step["status"] == "timed_out" and h.run(run_id)["status"] == "failed"
    # Like GitHub's own job timeout, the run nobody waits for is cancelled on the CI.
    assert step["summary"] == (
        "timed out: no final status within 0:30:00 (last: in_progress); "
        "github: cancel of acme/api/1000 requested (HTTP 202)"
    )
    assert github.runs[0].cancelled
    assert len(github.dispatches) == 1


def test_a_rate_limited_poll_backs_off_as_the_ci_asks(
    engine: Engine, github: FakeGitHub, tmp_path: Path
) -> None:
    h = CiHarness(engine, tmp_path / "pb", [REPRO], github=github)
    run_id = h.start("repro")
    h.due()
    github.script_read(FakeGitHub.rate_limited(retry_after=7))
    h.clock.advance(seconds=1)
    h.due()
    run = h.run(run_id)
    assert run["due_at"] == h.clock() + timedelta(seconds=7)
    assert h.step(run_id, "repro")["status"] == "waiting"
    h.clock.advance(seconds=3)
    assert h.due() == 0  # not due before the CI said
    h.drive(run_id, finished)
    assert h.step(run_id, "repro")["conclusion"] == "success"


def test_a_failed_conclusion_fails_the_step_and_the_run(engine: Engine, tmp_path: Path) -> None:
    with FakeGitHub(sequence=[("queued", None), ("completed", "failure")]) as github:
        h = CiHarness(engine, tmp_path / "pb", [REPRO], github=github)
        run_id = h.start("repro")
        h.drive(run_id, finished)
    step = h.step(run_id, "repro")
    assert (step["status"], step["conclusion"]) == ("failed", "failure")
    assert step["error"] == f"the CI run ended failure: {step['remote_url']}"


def test_cancelling_the_run_cancels_the_jenkins_build(engine: Engine, tmp_path: Path) -> None:
    deploy = """\
id: deploy
steps:
  - id: deploy
    uses: ci.jenkins
    with: {connection: jenkins, job: "api/hotfix-deploy", parameters: {REF: main}}
    wait: {timeout: 20m}
"""
    with FakeJenkins(sequence=[None]) as jenkins:
        h = CiHarness(engine, tmp_path / "pb", [deploy], jenkins=jenkins)
        run_id = h.start("deploy")
        h.drive(run_id, lambda run: run["steps"][0]["remote_status"] not in ("", "queued"))
        with engine.begin() as conn:
            assert run_store.request_cancel(conn, run_id, "carol", h.clock()) == "cancelling"
        h.due()
        assert jenkins.runs[0].cancelled
        assert len(jenkins.dispatches) == 1
    step = h.step(run_id, "deploy")
    assert step["status"] == "cancelled" and h.run(run_id)["status"] == "cancelled"
    assert step["summary"].startswith("cancelled by carol; ")


def test_runner_keeps_no_lease_while_a_step_waits(
    engine: Engine, github: FakeGitHub, tmp_path: Path
) -> None:
    h = CiHarness(engine, tmp_path / "pb", [REPRO], github=github)
    run_id = h.start("repro")
    h.due()
    run = h.run(run_id)
    assert run["lease_owner"] == "" and run["lease_until"] is None
    assert run["due_at"] == h.clock() + timedelta(seconds=1)  # the connection's poll_interval


def test_the_thread_shows_the_ci_status_and_link_while_waiting(
    engine: Engine, github: FakeGitHub, tmp_path: Path
) -> None:
    h = CiHarness(engine, tmp_path / "pb", [REPRO], github=github)
    run_id = h.start("repro")
    h.due()
    url = h.step(run_id, "repro")["remote_url"]
    assert f"repro … dispatched: {url}" in progress_text(h.run(run_id))
    h.clock.advance(seconds=1)
    h.due()
    assert f"repro … queued: {url}" in progress_text(h.run(run_id))
    assert h.changes.count(run_id) >= 3  # started, dispatched, queued


def test_an_always_webhook_after_a_failure_is_signed_once_with_the_run_envelope(
    engine: Engine, tmp_path: Path
) -> None:
    notify = """\
id: notify
steps:
  - id: repro
    uses: ci.github
    with: {connection: github, repo: acme/api, workflow: repro-staging.yml, ref: main}
    wait: {timeout: 30m}
  - id: notify
    uses: ci.webhook
    always: true
    with:
      connection: deployhook
      body: {incident: "{{ incident.id }}", outcome: "{{ run.status }}"}
"""
    with (
        FakeGitHub(sequence=[("completed", "failure")]) as github,
        FakeWebhook() as hook,
    ):
        h = CiHarness(engine, tmp_path / "pb", [notify], github=github, deployhook=hook)
        run_id = h.start("notify")
        h.drive(run_id, finished)
        assert hook.rejected == 0 and hook.duplicates == 0
        ((key, delivered),) = hook.deliveries.items()
    assert key == f"fb-{run_id}-notify"
    assert delivered["run_id"] == run_id and delivered["step"] == "notify"
    assert delivered["incident"]["id"] == h.incident
    assert delivered["body"] == {"incident": str(h.incident), "outcome": "failing"}
    assert h.step(run_id, "notify")["status"] == "succeeded"
    assert h.run(run_id)["status"] == "failed"
    assert "whsec-fake" not in str(h.step(run_id, "notify")["request"])


def test_a_rate_limited_dispatch_waits_as_told_and_creates_one_run(
    engine: Engine, github: FakeGitHub, tmp_path: Path
) -> None:
    h = CiHarness(engine, tmp_path / "pb", [REPRO], github=github)
    github.script_dispatch(FakeGitHub.rate_limited(retry_after=30))  # refused: nothing created
    run_id = h.start("repro")
    h.due()
    step = h.step(run_id, "repro")
    assert (step["status"], step["dispatch"]) == ("pending", "")
    assert h.run(run_id)["due_at"] == h.clock() + timedelta(seconds=30)
    h.clock.advance(seconds=30)
    h.drive(run_id, finished)
    assert h.run(run_id)["status"] == "succeeded"
    assert len(github.dispatches) == 2 and len(github.runs) == 1  # the refused one made none


def test_a_refused_dispatch_fails_the_step_with_the_ci_answer(
    engine: Engine, github: FakeGitHub, tmp_path: Path
) -> None:
    h = CiHarness(engine, tmp_path / "pb", [REPRO], github=github)
    github.script_dispatch(
        Reply.json({"message": "Workflow does not have 'workflow_dispatch'"}, 422)
    )
    run_id = h.start("repro")
    h.due()
    step = h.step(run_id, "repro")
    assert step["status"] == "failed" and "422" in step["error"]
    assert github.runs == []


def test_a_5xx_after_creating_is_unknown_then_found(
    engine: Engine, github: FakeGitHub, tmp_path: Path
) -> None:
    h = CiHarness(engine, tmp_path / "pb", [REPRO], github=github)
    github.script_dispatch(Created(Reply.json({"message": "Server Error"}, 502)))
    run_id = h.start("repro")
    h.due()
    assert h.step(run_id, "repro")["dispatch"] == "unknown"
    h.drive(run_id, finished)
    assert h.step(run_id, "repro")["status"] == "succeeded" and len(github.dispatches) == 1


def test_a_gitlab_pipeline_walks_its_statuses_to_success(engine: Engine, tmp_path: Path) -> None:
    pipeline = """\
id: pipeline
steps:
  - id: repro
    uses: ci.gitlab
    with: {connection: gitlab, ref: main, variables: {INCIDENT: "{{ incident.id }}"}}
    wait: {timeout: 30m}
"""
    with FakeGitLab() as gitlab:
        h = CiHarness(engine, tmp_path / "pb", [pipeline], gitlab=gitlab)
        run_id = h.start("pipeline")
        h.drive(run_id, finished)
        assert len(gitlab.dispatches) == 1
        assert gitlab.runs[0].params["INCIDENT"] == str(h.incident)
    step = h.step(run_id, "repro")
    assert (step["status"], step["conclusion"]) == ("succeeded", "success")
    statuses = [
        line.split("CI run ")[1].split(":")[0] for line in h.timeline() if "CI run " in line
    ]
    assert statuses[-1] == "success" and "running" in statuses
    assert "glptt-fake" not in str(step["request"]) and "glpat-fake" not in str(h.timeline())
