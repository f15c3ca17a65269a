"""ci.gitlab against a loopback GitLab: trigger, pipeline status sequence, lookup, cancel."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from integrations.ci.base import RemoteRun
from integrations.ci.gitlab import GitLabArgs, GitLabConnection
from tests.integrations.ci.support import Driver
from tests.support.loopback_ci import DROP, FakeGitLab

ARGS = {"connection": "gitlab", "ref": "main", "variables": {"INCIDENT": 42}}
CID = "fb-7-repro-gitlab"


def test_trigger_sends_the_token_in_the_body_and_follows_the_status_sequence() -> None:
    with FakeGitLab() as gitlab:
        driver = Driver("gitlab", gitlab.connection(), ARGS)
        sent = driver.dispatch(CID)
        assert sent.run == RemoteRun("500", f"{gitlab.base_url}/acme/api/-/pipelines/500")
        assert not sent.ambiguous
        (trigger,) = gitlab.dispatches
        assert trigger.path == "/api/v4/projects/acme%2Fapi/trigger/pipeline"
        assert trigger.json() == {
            "token": "glptt-fake",
            "ref": "main",
            "variables": {"INCIDENT": "42", "FIREBELL_RUN_ID": CID},
        }
        polls = [driver.poll(sent.run) for _ in range(4)]
    assert [(p.status, p.final, p.conclusion) for p in polls] == [
        ("created", False, None),
        ("pending", False, None),
        ("running", False, None),
        ("success", True, "success"),
    ]
    for read in gitlab.requests[1:]:
        assert read.path == "/api/v4/projects/acme%2Fapi/pipelines/500"
        assert read.headers["private-token"] == "glpat-fake"


@pytest.mark.parametrize("final", ["failed", "canceled", "skipped"])
def test_every_final_status_ends_the_wait_with_it_as_conclusion(final: str) -> None:
    with FakeGitLab(sequence=["running", final]) as gitlab:
        driver = Driver("gitlab", gitlab.connection(), ARGS)
        sent = driver.dispatch(CID)
        assert sent.run is not None
        first, second = driver.poll(sent.run), driver.poll(sent.run)
    assert not first.final and (second.final, second.conclusion) == (True, final)


def test_a_dropped_trigger_is_found_by_its_variable() -> None:
    since = datetime.now(UTC)
    with FakeGitLab() as gitlab:
        Driver("gitlab", gitlab.connection(), ARGS).dispatch("fb-7-other")
        gitlab.script_dispatch(DROP)
        driver = Driver("gitlab", gitlab.connection(), ARGS)
        sent = driver.dispatch(CID)
        assert sent.run is None and sent.ambiguous
        found = driver.find(CID, since)
        listing = next(r for r in gitlab.requests if r.path.endswith("/pipelines"))
    assert found == RemoteRun("501", f"{gitlab.base_url}/acme/api/-/pipelines/501")
    assert listing.query["ref"] == ["main"] and listing.query["source"] == ["trigger"]
    assert len(gitlab.dispatches) == 2 and len(gitlab.runs) == 2


def test_a_wrong_trigger_token_is_refused_and_cancel_reaches_gitlab() -> None:
    with FakeGitLab() as gitlab:
        refused = Driver("gitlab", gitlab.connection(trigger_token="nope-token"), ARGS).dispatch(
            CID
        )
        driver = Driver("gitlab", gitlab.connection(), ARGS)
        sent = driver.dispatch(CID)
        assert sent.run is not None
        said = driver.cancel(sent.run)
        polled = driver.poll(sent.run)
    assert not refused.ambiguous and "HTTP 404" in refused.detail
    assert "nope-token" not in refused.detail
    assert said == "gitlab: cancel of 500 requested (HTTP 200)"
    assert (polled.final, polled.conclusion) == (True, "canceled")


def test_describe_shows_the_trigger_token_as_stars() -> None:
    connection = {
        "type": "gitlab",
        "url": "https://gitlab.example.com",
        "project": "acme/api",
        "trigger_token": "glptt-x",
        "api_token": "glpat-y",
    }
    driver = Driver("gitlab", connection, ARGS)
    shown = driver.backend.describe(driver.plan(CID), driver.connection)
    assert shown["body"]["token"] == "***" and shown["headers"]["PRIVATE-TOKEN"] == "***"
    assert "glptt" not in str(shown) and "glpat" not in str(shown)


def test_numeric_and_path_projects_and_arguments() -> None:
    base = {"type": "gitlab", "url": "https://g.example", "trigger_token": "t", "api_token": "a"}
    assert GitLabConnection.model_validate({**base, "project": 1234}).project == "1234"
    for bad in ("acme", "acme/../x", "acme/api?x=1", "/acme/api"):
        with pytest.raises(ValidationError, match="not a valid project"):
            GitLabConnection.model_validate({**base, "project": bad})
    with pytest.raises(ValidationError, match="set by firebell"):
        GitLabArgs.model_validate({**ARGS, "variables": {"FIREBELL_RUN_ID": "x"}})
    with pytest.raises(ValidationError, match="may hold only"):
        GitLabArgs.model_validate({**ARGS, "variables": {"A-B": "x"}})
