"""The HTTP log backends are registered, and the issue's example connections and steps load."""

from __future__ import annotations

from typing import Any

import pytest

from integrations.connections import CONNECTION_TYPES, HttpConnection
from integrations.logs import LOG_BACKENDS
from integrations.logs.base import HttpCall
from integrations.outbound import check_address
from tests.integrations.logs.support import NOW

# The issue's example, with templates as they render for an incident on service "api".
EXAMPLE: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    (
        "loki",
        {"type": "loki", "url": "http://127.0.0.1:3100", "allow_private": True},
        {"connection": "loki", "selector": {"app": "api"}, "contains": "error", "since": "30m",
         "limit": 200},
        "http://127.0.0.1:3100/loki/api/v1/query_range?query=%7Bapp%3D%22api%22%7D+%7C%3D+%22error"
        "%22&start=1796551200000000000&end=1796553000000000000&limit=200&direction=backward",
    ),
    (
        "elasticsearch",
        {"type": "elasticsearch", "url": "http://127.0.0.1:9200", "api_key": "aWQ6a2V5",
         "index": "logs-*", "allow_private": True},
        {"connection": "es", "term": {"service.name": "api"}, "match": "error", "since": "30m",
         "limit": 200},
        "http://127.0.0.1:9200/logs-*/_search",
    ),
    (
        "sentry_event",
        {"type": "sentry", "url": "https://sentry.io", "organization": "acme", "token": "sntrys_x"},
        {"connection": "sentry", "issue_id": "4567", "event": "latest"},
        "https://sentry.io/api/0/organizations/acme/issues/4567/events/latest/",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("name", "connection", "args", "url"), EXAMPLE)
def test_issue_example_loads_and_plans(
    name: str, connection: dict[str, Any], args: dict[str, Any], url: str
) -> None:
    backend = LOG_BACKENDS[name]
    model = CONNECTION_TYPES[connection["type"]]
    assert model is backend.connection_model
    conn = model.model_validate(connection)
    assert isinstance(conn, HttpConnection)
    call = backend.plan(backend.args_model.model_validate(args), conn, NOW)
    assert isinstance(call, HttpCall)
    shown = backend.describe(call, conn)
    assert shown["url"] == url
    assert "***" in shown["headers"].values() or name == "loki"  # the example Loki has no auth
    # allow_private lets the loopback examples load; without it they would be refused.
    assert check_address(conn.url, conn.allow_private) is None
    if conn.allow_private:
        assert "loopback" in (check_address(conn.url, False) or "")
