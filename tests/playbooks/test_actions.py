"""The action registry: logs.<backend> (against a loopback Loki) and chat.post."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from integrations.logs import LOG_BACKENDS
from integrations.logs.files import FilesConnection
from integrations.logs.loki import LokiConnection
from integrations.outbound import Outbound
from playbooks.action import ActionContext, ActionIO, Planned, StepResult, is_remote
from playbooks.actions.chat import MAX_CHAT_TEXT
from playbooks.registry import ACTIONS, action_for
from tests.support.loopback_http import RecordedRequest, Reply, start

NOW = datetime(2026, 12, 6, 10, 30, tzinfo=UTC)
NOW_NS = int(NOW.timestamp()) * 10**9
TOKEN = "glc_registry-test-token"
CTX = ActionContext(incident_id=42, run_id=None, now=NOW)


def run(action: Any, planned: Any, connection: Any, io: ActionIO) -> StepResult:
    result: StepResult = asyncio.run(action.run(planned, connection, io))
    return result


def run_with_outbound(action: Any, planned: Any, connection: Any) -> StepResult:
    async def go() -> StepResult:
        outbound = Outbound()
        try:
            result: StepResult = await action.run(planned, connection, ActionIO(outbound))
            return result
        finally:
            await outbound.aclose()

    return asyncio.run(go())


def test_one_read_action_per_log_backend_one_remote_per_ci_and_chat_post() -> None:
    ci = ["ci.github", "ci.gitlab", "ci.jenkins", "ci.webhook"]
    assert sorted(ACTIONS) == sorted([f"logs.{n}" for n in LOG_BACKENDS] + ci + ["chat.post"])
    for name in ci:
        remote = action_for(name)
        assert remote is not None and is_remote(remote) and remote.effect == "write"
        assert remote.connection_types == {name.removeprefix("ci.")}
    expected_types = {
        "logs.loki": {"loki"},
        "logs.elasticsearch": {"elasticsearch"},
        "logs.sentry_event": {"sentry"},
        "logs.file": {"files"},
        "logs.journald": {"journald"},
        "chat.post": set(),
    }
    for name, types in expected_types.items():
        action = action_for(name)
        assert action is not None and action.name == name
        assert action.connection_types == types
        assert action.effect == ("write" if name == "chat.post" else "read")
    assert action_for("logs.nope") is None
    loki = action_for("logs.loki")
    assert loki is not None and loki.args_model is LOG_BACKENDS["loki"].args_model


def test_a_log_action_plans_the_exact_request_and_returns_text_lines() -> None:
    def loki(request: RecordedRequest) -> Reply:
        assert request.query["query"] == ['{app="api"} |= "error"']
        assert request.query["start"] == [str(NOW_NS - 15 * 60 * 10**9)]
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        values = [[str(NOW_NS - 10**9), "error b"], [str(NOW_NS - 2 * 10**9), "error a"]]
        return Reply.json(
            {
                "status": "success",
                "data": {
                    "resultType": "streams",
                    "result": [{"stream": {"app": "api"}, "values": values}],
                },
            }
        )

    action = ACTIONS["logs.loki"]
    with start(loki) as server:
        conn = LokiConnection(type="loki", url=server.base_url, allow_private=True, token=TOKEN)
        args = {
            "connection": "loki",
            "selector": {"app": "api"},
            "contains": "error",
            "since": "15m",
        }
        planned = action.plan(action.args_model.model_validate(args), conn, CTX)
        assert planned.shown["method"] == "GET"
        assert planned.shown["headers"]["Authorization"] == "***"
        assert TOKEN not in repr(planned.shown)
        assert server.requests == []  # planning sends nothing
        result = run_with_outbound(action, planned, conn)
    assert len(server.requests) == 1
    assert result.ok and result.summary == "2 lines" and result.error == ""
    assert result.lines == [
        '2026-12-06T10:29:58.000Z {app="api"} error a',
        '2026-12-06T10:29:59.000Z {app="api"} error b',
    ]
    assert result.facts["count"] == 2


def test_a_failing_backend_is_a_failed_step_without_the_credential() -> None:
    action = ACTIONS["logs.loki"]
    with start(lambda _: Reply.text(f"no such tenant for {TOKEN}", 401)) as server:
        conn = LokiConnection(type="loki", url=server.base_url, allow_private=True, token=TOKEN)
        planned = action.plan({"connection": "loki", "selector": {"app": "api"}}, conn, CTX)
        result = run_with_outbound(action, planned, conn)
    assert not result.ok and "loki answered HTTP 401" in result.error
    assert TOKEN not in result.error and TOKEN not in result.summary and result.lines == []


def test_a_refused_address_fails_the_step_before_any_request() -> None:
    action = ACTIONS["logs.loki"]
    with start(lambda _: Reply.json({})) as server:
        conn = LokiConnection(type="loki", url=server.base_url, token=TOKEN)  # no allow_private
        planned = action.plan({"connection": "loki", "selector": {"app": "api"}}, conn, CTX)
        result = run_with_outbound(action, planned, conn)
    assert not result.ok and "loopback" in result.error and server.requests == []


def test_a_read_stopped_early_says_so_in_the_summary(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("".join(f"error {n}\n" for n in range(100)))  # 900 bytes
    action = ACTIONS["logs.file"]
    conn = FilesConnection(type="files", paths=(str(tmp_path / "*.log"),), max_scan_bytes=100)
    planned = action.plan({"connection": "files", "path": str(log), "lines": 50}, conn, CTX)
    result = run(action, planned, conn, ActionIO(Outbound()))  # a file read sends nothing
    assert result.ok and result.lines[-1].endswith("error 99")
    assert result.summary.startswith(f"{len(result.lines)} lines; stopped after reading")
    assert "(max_scan_bytes)" in result.summary


def test_chat_post_plans_the_message_and_posts_through_the_poster() -> None:
    action = ACTIONS["chat.post"]
    planned = action.plan({"text": "loki: 3 lines"}, None, CTX)
    assert planned.shown == {"method": "chat", "to": "incident thread", "text": "loki: 3 lines"}
    posted: list[tuple[int, str]] = []

    async def poster(incident_id: int, text: str) -> str:
        posted.append((incident_id, text))
        return "slack, discord"

    result = run(action, planned, None, ActionIO(Outbound(), poster))
    assert posted == [(42, "loki: 3 lines")]
    assert result.ok and result.summary == "posted to slack, discord"

    async def nowhere(incident_id: int, text: str) -> str:
        return ""

    result = run(action, planned, None, ActionIO(Outbound(), nowhere))
    assert result.ok and result.summary == "not posted: the incident has no chat thread"


def test_chat_post_fails_without_chat_or_when_the_poster_fails() -> None:
    action = ACTIONS["chat.post"]
    planned = action.plan({"text": "hi"}, None, CTX)
    result = run(action, planned, None, ActionIO(Outbound()))
    assert not result.ok and result.error == "no chat is configured (slack: or discord:)"

    async def broken(incident_id: int, text: str) -> str:
        raise RuntimeError("slack answered 500")

    result = run(action, planned, None, ActionIO(Outbound(), broken))
    assert not result.ok and result.error == "RuntimeError: slack answered 500"


def test_chat_post_text_is_bounded() -> None:
    action = ACTIONS["chat.post"]
    assert action.plan({"text": "x" * MAX_CHAT_TEXT}, None, CTX).call.text == "x" * MAX_CHAT_TEXT
    for bad in ({"text": "x" * (MAX_CHAT_TEXT + 1)}, {"text": ""}, {"text": "a", "to": "#ops"}):
        with pytest.raises(ValidationError):
            action.plan(bad, None, CTX)


def test_a_ci_action_refuses_a_plain_run_outside_the_exactly_once_dispatch() -> None:
    action = ACTIONS["ci.github"]
    with pytest.raises(TypeError, match="exactly-once"):
        asyncio.run(action.run(Planned(shown={}, call=None), None, ActionIO(Outbound())))
