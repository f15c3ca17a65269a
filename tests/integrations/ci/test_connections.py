"""The CI connections' shared keys act: a non-public address is refused unless
allow_private (before anything is sent: the step fails at once), timeout and
max_response_bytes bound a dispatch (which is then ambiguous, not failed), credentials
are masked in dumps and known for log scrubbing."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest
import yaml

from bot.config import ConfigError, parse_config
from integrations.ci.webhook import WebhookConnection
from integrations.logs.base import HttpCall
from integrations.outbound import Outbound, OutboundNotSent, OutboundRefused
from tests.integrations.ci.support import Driver
from tests.support.loopback_http import RecordedRequest, Reply, start

KINDS: dict[str, tuple[str, dict[str, Any]]] = {
    "github": ("{type: github, token: gh-tok", {"repo": "a/b", "workflow": "w.yml", "ref": "m"}),
    "gitlab": (
        "{type: gitlab, project: a/b, trigger_token: gl-trig, api_token: gl-api",
        {"ref": "m"},
    ),
    "jenkins": ("{type: jenkins, user: u, api_token: jk-tok", {"job": "a"}),
    "webhook": ("{type: webhook, secret: wh-sec", {"body": {"x": 1}}),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_ci_connection_to_loopback_is_refused_unless_allow_private(kind: str) -> None:
    text = f"connections:\n  c: {KINDS[kind][0]}, url: 'http://127.0.0.1:8080'"
    with pytest.raises(ConfigError) as caught:
        parse_config(text + "}\n", {})
    ((path, message),) = caught.value.errors
    assert path == "connections.c.url" and "a loopback address" in message
    assert parse_config(text + ", allow_private: true}\n", {}).connections["c"].type == kind


def _big(request: RecordedRequest) -> Reply:
    return Reply(201, b"x" * 5000)


def _slow(request: RecordedRequest) -> Reply:
    time.sleep(1.5)
    return Reply(201)


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_dispatch_refused_before_sending_fails_at_once_not_ambiguous(kind: str) -> None:
    prefix, args = KINDS[kind]
    config = yaml.safe_load(prefix + "}")
    with start(lambda request: Reply(201)) as server:
        # Loaded without the address check (e.g. DNS changed since): every send re-checks.
        guarded = Driver(kind, {**config, "url": server.base_url}, {"connection": "c", **args})
        refused = guarded.dispatch("fb-1-private")
    assert server.requests == []
    assert refused.run is None and not refused.ambiguous
    assert "not sent" in refused.detail and "a loopback address" in refused.detail
    closed = {**config, "url": f"http://127.0.0.1:{_unused_port()}", "allow_private": True}
    nobody = Driver(kind, closed, {"connection": "c", **args}).dispatch("fb-1-closed")
    assert nobody.run is None and not nobody.ambiguous and "ConnectError" in nobody.detail


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_timeout_and_response_cap_bound_a_dispatch_which_is_then_ambiguous(kind: str) -> None:
    prefix, args = KINDS[kind]
    with start(_big) as server:
        text = (
            f"connections:\n  c: {prefix}, url: '{server.base_url}', allow_private: true,"
            " timeout: 200ms, max_response_bytes: 1000, poll_interval: 3s}\n"
        )
        connection = parse_config(text, {}).connections["c"]
        driver = Driver(kind, connection, {"connection": "c", **args})
        big = driver.dispatch("fb-1-big")
        server.handler = _slow
        began = time.monotonic()
        slow = driver.dispatch("fb-1-slow")
        took = time.monotonic() - began
    assert big.run is None and big.ambiguous and "response larger than 1000 bytes" in big.detail
    assert slow.run is None and slow.ambiguous and "no complete answer within 0.2s" in slow.detail
    assert took < 1.2
    assert driver.connection.poll_interval.total_seconds() == 3


def test_ci_credentials_are_masked_in_dumps_and_known_as_secrets() -> None:
    env = {
        "GH": "gh-token-1",
        "GLT": "gl-trigger-2",
        "GLA": "gl-api-3",
        "JK": "jk-token-4",
        "WH": "wh-secret-5",
    }
    text = (
        "connections:\n"
        "  gh: {type: github, token: '${GH}'}\n"
        "  gl: {type: gitlab, url: 'https://g.example', project: 12,"
        " trigger_token: '${GLT}', api_token: '${GLA}'}\n"
        "  jk: {type: jenkins, url: 'https://j.example', user: firebell, api_token: '${JK}'}\n"
        "  wh: {type: webhook, url: 'https://w.example/hook', secret: '${WH}'}\n"
    )
    settings = parse_config(text, env)
    assert set(env.values()) <= set(settings.secret_values())
    dumped = settings.redacted_dump()["connections"]
    assert dumped["gh"]["token"] == "***" and dumped["jk"]["api_token"] == "***"
    assert dumped["gl"]["trigger_token"] == "***" and dumped["gl"]["api_token"] == "***"
    assert dumped["wh"]["secret"] == "***" and dumped["jk"]["user"] == "firebell"
    assert not any(value in repr(dumped) for value in env.values())


def test_a_refusal_after_a_redirect_is_not_called_unsent() -> None:
    answers = iter([["127.0.0.1"]])

    def resolver(host: str, port: int) -> list[str]:
        return next(answers, [])  # the name stops resolving after the first hop

    async def dispatch(base_url: str) -> None:
        outbound = Outbound(resolver=resolver)
        url = base_url.replace("127.0.0.1", "ci.test")
        connection = WebhookConnection(type="webhook", secret="s", url=url, allow_private=True)
        try:
            await outbound.send(connection, HttpCall(method="POST", path="/go", json={}))
        finally:
            await outbound.aclose()

    redirect = Reply(307, headers={"Location": "/again"})
    with start(lambda request: redirect) as server, pytest.raises(OutboundRefused) as caught:
        asyncio.run(dispatch(server.base_url))
    assert len(server.requests) == 1  # the first hop arrived: the outcome is unknown
    assert not isinstance(caught.value, OutboundNotSent)
    assert "cannot resolve ci.test" in str(caught.value)
