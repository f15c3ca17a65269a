"""Whatever a CI answers (any JSON, any status, any Location), the backends give a result or
a CiError saying what was wrong: never another exception (the engine stores CiError as
the step's failure; anything else would end the worker's tick)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations.ci.base import CiError, Dispatched, Polled, RemoteRun
from tests.integrations.ci.support import Driver
from tests.support.json_strategies import json_values
from tests.support.loopback_http import LoopbackServer, RecordedRequest, Reply, start

KEYS = st.sampled_from(
    ["id", "status", "conclusion", "html_url", "web_url", "workflow_run_id", "workflow_runs",
     "display_title", "name", "items", "task", "url", "actions", "parameters", "value",
     "executable", "number", "result", "building", "cancelled", "why", "state", "run_url"]
)  # fmt: skip
JSON = json_values(KEYS, "fb-7", "completed", "success", "SUCCESS", "/job/a/1/", "running")
# Objects with the keys the backends read, holding anything, lists of such objects within.
NESTED = st.dictionaries(
    KEYS, JSON | st.lists(st.dictionaries(KEYS, JSON, max_size=4), max_size=3), max_size=5
)
SHAPED = st.dictionaries(KEYS, JSON | NESTED | st.lists(NESTED, max_size=3), max_size=6)
ANSWER = st.tuples(
    st.sampled_from([200, 201, 204, 302, 400, 403, 404, 429, 500]),
    (JSON | SHAPED).map(lambda value: json.dumps(value).encode())
    | st.binary(max_size=40)
    | st.just(b"[" * 100_000 + b"]" * 100_000),
    st.sampled_from(["", "/queue/item/7/", "/queue/item/x", "http://elsewhere/queue/item/9"]),
    st.sampled_from(["", "5", "-1", "x", "\xb2", "99999999999999999999"]),
)
FUZZ = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
ANSWERS: list[tuple[int, bytes, str, str]] = []


@pytest.fixture(scope="module")
def far_side() -> Iterator[LoopbackServer]:
    def reply(_request: RecordedRequest) -> Reply:
        status, body, location, retry_after = ANSWERS[-1]
        headers = {"Content-Type": "application/json"}
        if location:
            headers["Location"] = location
        if retry_after:
            headers["Retry-After"] = retry_after
            headers["X-RateLimit-Remaining"] = "0"
            headers["X-RateLimit-Reset"] = retry_after
        return Reply(status, body, headers)

    with start(reply) as server:
        yield server
        server.requests.clear()


def connections(url: str) -> dict[str, tuple[dict[str, Any], dict[str, Any], RemoteRun]]:
    base = {"url": url, "allow_private": True, "poll_interval": "1s"}
    return {
        "github": (
            {**base, "type": "github", "token": "ghp_x"},
            {"connection": "c", "repo": "acme/api", "workflow": "r.yml", "ref": "main"},
            RemoteRun("acme/api/7"),
        ),
        "gitlab": (
            {
                **base,
                "type": "gitlab",
                "project": "acme/api",
                "trigger_token": "t",
                "api_token": "a",
            },
            {"connection": "c", "ref": "main"},
            RemoteRun("7"),
        ),
        "jenkins": (
            {**base, "type": "jenkins", "user": "u", "api_token": "a"},
            {"connection": "c", "job": "api/deploy"},
            RemoteRun("/job/api/job/deploy/7"),
        ),
    }


def outcome(call: Any) -> Any:
    try:
        return call()
    except CiError as exc:
        assert str(exc)
        return exc


@FUZZ
@given(ANSWER, st.sampled_from(["github", "gitlab", "jenkins"]))
def test_any_answer_is_a_result_or_a_ci_error(
    far_side: LoopbackServer, answer: tuple[int, bytes, str, str], name: str
) -> None:
    ANSWERS.append(answer)
    connection, args, run = connections(far_side.base_url)[name]
    driver = Driver(name, connection, args)
    sent = outcome(lambda: driver.dispatch("fb-7"))
    assert isinstance(sent, Dispatched | CiError)
    found = outcome(lambda: driver.find("fb-7", datetime.now(UTC)))
    assert found is None or isinstance(found, RemoteRun | CiError)
    for remote in (run, sent.run if isinstance(sent, Dispatched) else None, found):
        if isinstance(remote, RemoteRun):
            polled = outcome(lambda r=remote: driver.poll(r))
            assert isinstance(polled, Polled | CiError)
            assert isinstance(driver.cancel(remote), str)
