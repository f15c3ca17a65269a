"""ci.jenkins against a loopback Jenkins: buildWithParameters, the queue item followed to
its build (also after the item 404s), the build polled to its result, cancel."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from integrations.ci.base import CiError, RemoteRun
from integrations.ci.jenkins import JenkinsArgs
from tests.integrations.ci.support import Driver
from tests.support.loopback_ci import DROP, FakeJenkins

ARGS = {"connection": "jenkins", "job": "api/hotfix-deploy", "parameters": {"REF": "main"}}
CID = "fb-7-hotfix"
JOB = "/job/api/job/hotfix-deploy"


def test_build_with_parameters_queue_item_then_build_to_its_result() -> None:
    with FakeJenkins() as jenkins:
        driver = Driver("jenkins", jenkins.connection(), ARGS)
        sent = driver.dispatch(CID)
        assert sent.run == RemoteRun(f"queue/1 {JOB} {CID}") and not sent.ambiguous
        (trigger,) = jenkins.dispatches
        assert trigger.path == f"{JOB}/buildWithParameters"
        assert trigger.query == {"REF": ["main"], "FIREBELL_RUN_ID": [CID]}
        token = base64.b64encode(b"firebell:11fake-api-token").decode()
        assert trigger.headers["authorization"] == f"Basic {token}"
        queued = driver.poll(sent.run)  # the item waits for an executor
        started = driver.poll(sent.run)  # the item names build 41, which is building
        assert started.run is not None
        done = driver.poll(started.run)
    assert (queued.status, queued.final, queued.run) == ("queued", False, None)
    build_url = f"{jenkins.base_url}{JOB}/41/"
    assert started.run == RemoteRun(f"{JOB}/41", build_url)
    assert (started.status, started.final, started.url) == ("running", False, build_url)
    assert (done.status, done.final, done.conclusion) == ("completed", True, "success")
    assert jenkins.requests[-1].path == f"{JOB}/41/api/json"
    assert jenkins.requests[-1].query == {"tree": ["building,result,url"]}


def test_a_queue_item_gone_after_the_build_started_is_found_by_the_parameter() -> None:
    with FakeJenkins(sequence=["FAILURE"]) as jenkins:
        driver = Driver("jenkins", jenkins.connection(), ARGS)
        Driver("jenkins", jenkins.connection(), ARGS).dispatch("fb-7-other")
        sent = driver.dispatch(CID)
        assert sent.run is not None
        jenkins.start(1)
        jenkins.start(2)
        jenkins.forget_queue()
        polled = driver.poll(sent.run)
        scans = [r for r in jenkins.requests if r.path == f"{JOB}/api/json"]
    assert [r.path for r in jenkins.requests if "queue/item" in r.path] == [
        "/queue/item/2/api/json"
    ]
    assert len(scans) == 1 and scans[0].query["tree"][0].startswith("builds[number,url,actions")
    assert polled.run == RemoteRun(f"{JOB}/42", f"{jenkins.base_url}{JOB}/42/")
    assert (polled.final, polled.conclusion) == (True, "failure")


def test_a_gone_queue_item_without_a_build_is_an_error_not_a_result() -> None:
    with FakeJenkins() as jenkins:
        driver = Driver("jenkins", jenkins.connection(), ARGS)
        with pytest.raises(CiError, match="queue item 7 is gone and no build"):
            driver.poll(RemoteRun(f"queue/7 {JOB} {CID}"))


def test_a_dropped_trigger_is_found_in_the_queue_then_among_builds() -> None:
    since = datetime.now(UTC)
    with FakeJenkins() as jenkins:
        jenkins.script_dispatch(DROP)
        driver = Driver("jenkins", jenkins.connection(), ARGS)
        sent = driver.dispatch(CID)
        assert sent.run is None and sent.ambiguous
        in_queue = driver.find(CID, since)
        jenkins.start(1)
        among_builds = driver.find(CID, since)
    assert in_queue == RemoteRun(f"queue/1 {JOB} {CID}")
    assert among_builds == RemoteRun(f"{JOB}/41", f"{jenkins.base_url}{JOB}/41/")
    assert len(jenkins.dispatches) == 1


def test_cancel_a_queued_item_and_stop_a_build() -> None:
    with FakeJenkins(queue_polls=99) as jenkins:
        driver = Driver("jenkins", jenkins.connection(), ARGS)
        queued = driver.dispatch(CID).run
        running = driver.dispatch("fb-7-second").run
        assert queued is not None and running is not None
        said_queued = driver.cancel(queued)
        after = driver.poll(queued)
        build = RemoteRun(f"{JOB}/{jenkins.start(2)}")
        said_build = driver.cancel(build)
        stopped = driver.poll(build)
    assert said_queued == f"jenkins: cancel of queue/1 {JOB} {CID} requested (HTTP 204)"
    assert (after.final, after.conclusion) == (True, "cancelled")
    assert said_build == f"jenkins: cancel of {JOB}/41 requested (HTTP 200)"
    assert (stopped.final, stopped.conclusion) == (True, "aborted")


def test_cancel_of_a_queued_id_whose_build_started_stops_the_build() -> None:
    with FakeJenkins(queue_polls=0) as jenkins:
        driver = Driver("jenkins", jenkins.connection(), ARGS)
        queued = driver.dispatch(CID).run
        assert queued is not None
        said = driver.cancel(queued)  # the engine still holds the queued id
    assert said == f"jenkins: cancel of {JOB}/41 requested (HTTP 200)"
    assert jenkins.requests[-1].path == f"{JOB}/41/stop" and jenkins.runs[0].cancelled


def test_job_names_are_escaped_segments_and_checked() -> None:
    args = JenkinsArgs.model_validate({**ARGS, "job": "my folder/a%b?c#d"})
    driver = Driver(
        "jenkins",
        {"type": "jenkins", "url": "https://j.example", "user": "u", "api_token": "secret-tok"},
        ARGS,
    )
    call = driver.backend.plan(args, driver.connection, CID)
    assert call.path == "/job/my%20folder/job/a%25b%3Fc%23d/buildWithParameters"
    shown = driver.backend.describe(call, driver.connection)
    assert shown["headers"]["Authorization"] == "***" and "secret-tok" not in str(shown)
    for bad in ("", "a/../b", "a//b", "a\nb", "/".join(["x"] * 11), "x" * 80, "é" * 13):
        with pytest.raises(ValidationError):
            JenkinsArgs.model_validate({**ARGS, "job": bad})
    with pytest.raises(ValidationError, match="set by firebell"):
        JenkinsArgs.model_validate({**ARGS, "parameters": {"FIREBELL_RUN_ID": "x"}})
