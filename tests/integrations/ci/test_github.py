"""ci.github against a loopback GitHub speaking the workflow_dispatch and runs API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from integrations.ci.base import CiError, Dispatched, RemoteRun
from integrations.ci.github import GitHubArgs
from integrations.ci.support import DEFAULT_RATE_WAIT, rate_limit_wait
from tests.integrations.ci.support import Driver
from tests.support.loopback_ci import DROP, Created, FakeGitHub, Reply
from tests.support.loopback_ci_base import Outcome

ARGS = {
    "connection": "github",
    "repo": "acme/api",
    "workflow": "repro-staging.yml",
    "ref": "main",
    "inputs": {"incident": 42},
}
CID = "fb-7-repro"


def test_dispatch_with_run_details_then_polls_to_the_conclusion() -> None:
    with FakeGitHub() as github:
        driver = Driver("github", github.connection(), ARGS)
        sent = driver.dispatch(CID)
        assert sent == Dispatched(
            RemoteRun("acme/api/1000", f"{github.base_url}/acme/api/actions/runs/1000"),
            ambiguous=False,
            detail="github workflow run 1000",
        )
        (request,) = github.dispatches
        assert request.path == "/repos/acme/api/actions/workflows/repro-staging.yml/dispatches"
        assert request.headers["authorization"] == "Bearer ghp_fake-token"
        assert request.headers["accept"] == "application/vnd.github+json"
        assert request.headers["x-github-api-version"] == "2022-11-28"
        assert request.headers["user-agent"] == "firebell"
        assert request.json() == {
            "ref": "main",
            "inputs": {"incident": "42", "firebell_run_id": CID},
            "return_run_details": True,
        }
        assert sent.run is not None
        polls = [driver.poll(sent.run) for _ in range(3)]
    assert [(p.status, p.final, p.conclusion) for p in polls] == [
        ("queued", False, None),
        ("in_progress", False, None),
        ("completed", True, "success"),
    ]
    assert polls[-1].url == sent.run.url and polls[-1].retry_after is None
    paths = [r.path for r in github.requests[1:]]
    assert paths == ["/repos/acme/api/actions/runs/1000"] * 3


def test_a_204_without_details_is_found_by_the_correlation_id_in_the_run_name() -> None:
    since = datetime.now(UTC)
    with FakeGitHub(return_details=False) as github:
        other = Driver("github", github.connection(), ARGS).dispatch("fb-7-repro-gitlab")
        driver = Driver("github", github.connection(), ARGS)
        assert driver.find(CID, since) is None  # fb-7-repro is not fb-7-repro-gitlab
        sent = driver.dispatch(CID)
        assert other.run is None and sent.run is None
        assert sent.ambiguous and "without a run id" in sent.detail
        found = driver.find(CID, since)
        listing = github.requests[-1]
    assert found == RemoteRun("acme/api/1001", f"{github.base_url}/acme/api/actions/runs/1001")
    assert listing.path == "/repos/acme/api/actions/workflows/repro-staging.yml/runs"
    assert listing.query["event"] == ["workflow_dispatch"]
    created = datetime.fromisoformat(listing.query["created"][0].removeprefix(">="))
    assert since - timedelta(seconds=6) <= created <= since
    assert len(github.dispatches) == 2  # finding never dispatches again


@pytest.mark.parametrize("outcome", [DROP, Created(Reply.text("upstream broke", 502))])
def test_a_dispatch_without_an_answer_is_ambiguous_and_found_once(outcome: Outcome) -> None:
    since = datetime.now(UTC)
    with FakeGitHub() as github:
        github.script_dispatch(outcome)
        driver = Driver("github", github.connection(), ARGS)
        sent = driver.dispatch(CID)
        assert sent.run is None and sent.ambiguous
        found = driver.find(CID, since)
    assert found is not None and found.remote_id == "acme/api/1000"
    assert len(github.dispatches) == 1 and len(github.runs) == 1


def test_a_secondary_rate_limit_is_a_refusal_to_retry_later_and_a_poll_wait() -> None:
    with FakeGitHub() as github:
        github.script_dispatch(FakeGitHub.rate_limited(7))
        driver = Driver("github", github.connection(), ARGS)
        refused = driver.dispatch(CID)
        assert refused.run is None and not refused.ambiguous
        assert refused.retry_after == timedelta(seconds=7) and "rate limited" in refused.detail
        assert github.runs == []  # a 403 created nothing: retrying later is safe
        sent = driver.dispatch(CID)
        assert sent.run is not None
        github.script_read(FakeGitHub.rate_limited(9))
        with pytest.raises(CiError) as caught:
            driver.poll(sent.run)
        assert caught.value.retry_after == timedelta(seconds=9) and caught.value.status == 403
        assert driver.poll(sent.run).status == "queued"  # the next poll reads the run


def test_a_secondary_limit_without_headers_waits_a_minute_and_other_403s_do_not() -> None:
    now = datetime.now(UTC)
    secondary = b'{"message": "You have exceeded a secondary rate limit. Please wait."}'
    forbidden = b'{"message": "Resource not accessible by integration"}'
    assert rate_limit_wait(403, {}, now, secondary) == DEFAULT_RATE_WAIT
    assert rate_limit_wait(403, {}, now, forbidden) is None
    with FakeGitHub() as github:
        github.script_dispatch(Reply(403, forbidden), Reply(403, secondary))
        driver = Driver("github", github.connection(), ARGS)
        denied, limited = driver.dispatch(CID), driver.dispatch(CID)
    assert not denied.ambiguous and denied.retry_after is None
    assert not limited.ambiguous and limited.retry_after == DEFAULT_RATE_WAIT


def test_an_exhausted_primary_limit_waits_until_reset() -> None:
    reset = int(datetime.now(UTC).timestamp()) + 120
    run = {"id": 1000, "status": "in_progress", "conclusion": None, "html_url": "http://x/1000"}
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}
    with FakeGitHub() as github:
        github.script_read(Reply.json(run, 200, headers))
        polled = Driver("github", github.connection(), ARGS).poll(RemoteRun("acme/api/1000"))
    assert polled.status == "in_progress" and not polled.final
    assert polled.retry_after is not None
    assert timedelta(seconds=100) <= polled.retry_after <= timedelta(seconds=121)


def test_a_refusal_names_the_answer_without_the_token() -> None:
    with FakeGitHub() as github:
        github.script_dispatch(
            Reply.json({"message": "Unexpected inputs provided: [incident]"}, 422)
        )
        refused = Driver("github", github.connection(), ARGS).dispatch(CID)
        unauthorized = Driver("github", github.connection(token="wrong-token"), ARGS).dispatch(CID)
    assert not refused.ambiguous and refused.retry_after is None
    assert "HTTP 422" in refused.detail and "Unexpected inputs" in refused.detail
    assert "HTTP 401" in unauthorized.detail and "wrong-token" not in unauthorized.detail


def test_cancel_asks_github_and_the_run_ends_cancelled() -> None:
    with FakeGitHub() as github:
        driver = Driver("github", github.connection(), ARGS)
        sent = driver.dispatch(CID)
        assert sent.run is not None
        said = driver.cancel(sent.run)
        polled = driver.poll(sent.run)
    assert said == "github: cancel of acme/api/1000 requested (HTTP 202)"
    assert github.requests[1].path == "/repos/acme/api/actions/runs/1000/cancel"
    assert (polled.status, polled.conclusion) == ("completed", "cancelled")


def test_describe_hides_the_token() -> None:
    driver = Driver("github", {"type": "github", "token": "ghp_secret"}, ARGS)
    shown = driver.backend.describe(driver.plan(CID), driver.connection)
    assert shown["url"].startswith("https://api.github.com/repos/acme/api/")
    assert shown["headers"]["Authorization"] == "***" and "ghp_secret" not in str(shown)
    assert driver.connection.poll_interval == timedelta(seconds=10)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"repo": "acme/../x"}, "not a valid repository"),
        ({"repo": "acme"}, "not a valid repository"),
        ({"repo": "acme/.."}, "not a valid repository"),
        ({"repo": "acme/api/extra"}, "not a valid repository"),
        ({"workflow": "../deploy.yml"}, "not a valid workflow"),
        ({"workflow": "deploy"}, "not a valid workflow"),
        ({"inputs": {f"i{n}": "v" for n in range(25)}}, "at most 24 inputs"),
        ({"inputs": {"firebell_run_id": "x"}}, "set by firebell"),
        ({"inputs": {"a b": "x"}}, "not a valid workflow input name"),
        ({"ref": ""}, "at least 1 character"),
    ],
)
def test_arguments_are_checked(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        GitHubArgs.model_validate({**ARGS, **change})


def test_poll_interval_is_at_least_a_second() -> None:
    with pytest.raises(ValidationError, match="at least 1s"):
        Driver("github", {"type": "github", "token": "t", "poll_interval": "500ms"}, ARGS)
