"""`connections:`: each is picked by its type, HTTP ones refused on non-public addresses
unless allowed, their credentials masked and scrubbed, their timeouts and caps applied;
`playbooks:` loads next to the config."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from bot.config import ConfigError, check_config_file, load_config, parse_config
from integrations.connections import HttpConnection
from integrations.logs.base import ExecCall, FetchError, HttpCall
from integrations.logs.elasticsearch import ElasticsearchConnection
from integrations.logs.journald import JournaldBackend, JournaldConnection
from integrations.logs.loki import LokiConnection
from integrations.outbound import Outbound, OutboundRefused
from tests.support.loopback_http import RecordedRequest, Reply, start

URLS = {
    "loki": "{type: loki, url: 'http://127.0.0.1:3100'",
    "elasticsearch": "{type: elasticsearch, url: 'http://localhost:9200'",
    "sentry": "{type: sentry, url: 'http://169.254.169.254', organization: acme, token: t0k3n",
}


def errors(text: str) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, {})
    return caught.value.errors


@pytest.mark.parametrize("kind", sorted(URLS))
def test_a_connection_to_a_non_public_address_is_refused_unless_allow_private(kind: str) -> None:
    (path, message), *more = errors(f"connections:\n  c: {URLS[kind]}}}\n")
    assert not more and path == "connections.c.url"
    assert "set allow_private: true on the connection to allow it" in message
    assert message.split(" is ")[1].startswith(("a loopback", "a link-local"))
    settings = parse_config(f"connections:\n  c: {URLS[kind]}, allow_private: true}}\n", {})
    assert settings.connections["c"].type == kind


def test_the_type_picks_the_connection_model() -> None:
    settings = parse_config(
        "connections:\n"
        "  logs: {type: loki, url: 'http://127.0.0.1:3100', allow_private: true, org_id: t1}\n"
        "  es: {type: elasticsearch, url: 'http://127.0.0.1:9200', allow_private: true}\n",
        {},
    )
    logs, es = settings.connections["logs"], settings.connections["es"]
    assert isinstance(logs, LokiConnection) and logs.org_id == "t1"
    assert isinstance(es, ElasticsearchConnection) and es.index == "logs-*"
    assert errors("connections:\n  c: {type: mongo}\n") == [
        (
            "connections.c.type",
            'unknown type "mongo" (expected one of: loki, elasticsearch, sentry, files, journald,'
            " github, gitlab, jenkins, webhook)",
        )
    ]
    assert errors("connections:\n  c: {url: 'http://x'}\n")[0][0] == "connections.c.type"
    assert errors("connections:\n  c: {type: journald, url: 'http://x'}\n") == [
        (
            "connections.c.url",
            "unknown key (expected one of: type, directory, file, timeout, max_output_bytes)",
        )
    ]
    assert errors("connections:\n  'a b': {type: journald}\n")[0][0] == 'connections["a b"]'


def test_connection_credentials_are_masked_in_dumps_and_scrubbed_from_logs(tmp_path: Path) -> None:
    text = (
        "connections:\n"
        "  loki: {type: loki, url: 'http://127.0.0.1:3100', allow_private: true,"
        " token: '${LOKI}'}\n"
        "  basic: {type: loki, url: 'http://127.0.0.1:3100', allow_private: true,"
        " username: reader, password: '${LOKI_PW}'}\n"
        "  es: {type: elasticsearch, url: 'http://127.0.0.1:9200', allow_private: true,"
        " api_key: '${ES}'}\n"
        "  os: {type: elasticsearch, flavor: opensearch, url: 'http://127.0.0.1:9200',"
        " allow_private: true, username: admin, password: '${OS_PW}'}\n"
        "  sentry: {type: sentry, url: 'http://127.0.0.1:9000', allow_private: true,"
        " organization: acme, token: '${SENTRY}'}\n"
    )
    env = {
        "LOKI": "loki-token-1",
        "LOKI_PW": "loki-pass-2",
        "ES": "es-api-key-3",
        "OS_PW": "os-pass-4",
        "SENTRY": "sentry-token-5",
    }
    settings = parse_config(text, env)
    assert set(env.values()) <= set(settings.secret_values())
    dumped = settings.redacted_dump()["connections"]
    assert dumped["loki"]["token"] == "***" and dumped["basic"]["password"] == "***"
    assert dumped["basic"]["username"] == "reader"  # not a secret
    assert dumped["es"]["api_key"] == "***" and dumped["os"]["password"] == "***"
    assert dumped["sentry"]["token"] == "***" and dumped["sentry"]["organization"] == "acme"
    assert not any(value in repr(dumped) for value in env.values())
    config = tmp_path / "firebell.yaml"
    config.write_text(text)
    ok, report = check_config_file(config, env)
    assert ok and "connections: 5: loki (loki), basic (loki), es (elasticsearch)" in report
    assert not any(value in report for value in env.values())


def test_playbooks_is_the_folder_loaded_next_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "books").mkdir()
    (tmp_path / "books" / "note.yaml").write_text(
        "id: note\nrun: on_open\nsteps:\n  - {id: say, uses: chat.post, with: {text: hi}}\n"
    )
    config = tmp_path / "firebell.yaml"
    config.write_text("playbooks: books\n")
    settings = load_config(config, {})
    assert settings.playbook_folder() == tmp_path / "books"
    assert [p.id for p in settings.catalog.playbooks.values()] == ["note"]
    assert settings.catalog.playbooks["note"].spec.run == "on_open"
    config.write_text("playbooks: elsewhere\n")
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(config, {})


HTTP_KINDS = {
    "loki": "{type: loki",
    "elasticsearch": "{type: elasticsearch",
    "sentry": "{type: sentry, organization: acme, token: t0k3n",
}


def _slow_or_big(request: RecordedRequest) -> Reply:
    if request.path == "/slow":
        time.sleep(1.5)
    return Reply(200, b"x" * 5000)


@pytest.mark.parametrize("kind", sorted(HTTP_KINDS))
def test_each_http_connection_s_timeout_and_response_cap_bound_its_requests(kind: str) -> None:
    with start(_slow_or_big) as server:
        text = (
            f"connections:\n  c: {HTTP_KINDS[kind]}, url: '{server.base_url}',"
            " allow_private: true, timeout: 200ms, max_response_bytes: 1000}\n"
        )
        connection = parse_config(text, {}).connections["c"]
        assert isinstance(connection, HttpConnection) and connection.type == kind

        async def send(path: str) -> str:
            outbound = Outbound()
            try:
                with pytest.raises(OutboundRefused) as caught:
                    await outbound.send(connection, HttpCall("GET", path))
            finally:
                await outbound.aclose()
            return str(caught.value)

        began = time.monotonic()
        assert "no complete answer within 0.2s" in asyncio.run(send("/slow"))
        assert time.monotonic() - began < 1.2
        assert "response larger than 1000 bytes" in asyncio.run(send("/big"))


def test_the_journald_connection_s_timeout_bounds_journalctl() -> None:
    settings = parse_config("connections:\n  j: {type: journald, timeout: 300ms}\n", {})
    connection = settings.connections["j"]
    assert isinstance(connection, JournaldConnection)

    async def fetch() -> None:
        outbound = Outbound()
        try:
            # A process that outlives the timeout, run as the backend runs journalctl.
            await JournaldBackend().fetch(ExecCall(("sleep", "30")), connection, outbound)
        finally:
            await outbound.aclose()

    began = time.monotonic()
    with pytest.raises(FetchError, match=r"did not finish within 0\.3s"):
        asyncio.run(fetch())
    assert time.monotonic() - began < 5
