"""Fuzz the HTTP receive path: no body, header or content type produces a 500."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import Settings
from bot.roles import create_app

ENDPOINTS = [
    "/webhooks/alertmanager",
    "/webhooks/sentry",
    "/webhooks/nginx",
    "/webhooks/generic",
    "/webhooks/sentry/legacy/x",
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder: Path = tmp_path_factory.mktemp("fuzz")
    app = create_app(Settings(database_url=f"sqlite:///{folder}/fuzz.db"))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    endpoint=st.sampled_from(ENDPOINTS),
    body=st.one_of(st.binary(max_size=2000), json_values.map(lambda v: json.dumps(v).encode())),
    resource=st.sampled_from(
        ["issue", "event_alert", "metric_alert", "error", "installation", "", "zzz"]
    ),
    content_type=st.sampled_from(["application/json", "text/plain", "", "application/x-ndjson"]),
)
def test_no_input_produces_a_500(
    client: TestClient, endpoint: str, body: bytes, resource: str, content_type: str
) -> None:
    headers = {"Content-Type": content_type, "Sentry-Hook-Resource": resource}
    response = client.post(endpoint, content=body, headers=headers)
    assert response.status_code < 500, response.text
    assert response.status_code in (202, 400, 401, 413, 422)
