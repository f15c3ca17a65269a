"""Schemathesis against the served OpenAPI schema of a real `firebell serve` (uvicorn on a
loopback port), on SQLite and PostgreSQL: every documented operation, webhooks included,
with generated valid and invalid input; no 5xx, and every answer documented (status code,
content type, headers, body)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from prometheus_client.parser import text_string_to_metric_families
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.server_process import ServerProcess

pytestmark = pytest.mark.slow

TOKEN = "contract-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CONFIG = """\
database_url: {database_url}
api_tokens: ["{token}"]
max_body_bytes: 65536
sources:
  sentry:
    client_secret: sentry-secret-0123456789
    legacy_token: legacy-token-0123456789
users:
  - {{name: alice, contacts: ["json://127.0.0.1:9/alice"]}}
  - {{name: bob, contacts: ["json://127.0.0.1:9/bob"]}}
schedules:
  - name: primary
    layers: [{{rotation: weekly, members: [alice, bob]}}]
"""
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = 8  # per operation and generation mode: the whole run stays well under a minute


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    config = CONFIG.format(database_url=database_url, token=TOKEN)
    proc = ServerProcess(tmp_path, config)
    if not database_url.startswith("sqlite"):
        result = proc.cli("db", "upgrade")
        assert result.returncode == 0, result.stderr
    with proc:
        yield proc


def test_every_operation_keeps_its_documented_contract(server: ServerProcess) -> None:
    schema = schemathesis.openapi.from_url(server.base_url + "/openapi.json")
    with httpx.Client(base_url=server.base_url, headers=AUTH) as http:
        # Something to find: an incident for the id-taking operations.
        alert = {"title": "Disk full", "service": "db", "severity": "critical"}
        assert http.post("/webhooks/generic", json=alert).status_code == 202
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = {operation.label for operation in operations}
    assert {"POST /webhooks/alertmanager", "POST /webhooks/sentry"} <= labels
    assert "GET /api/v1/incidents/{incident_id}" in labels
    assert {"GET /api/v1/reports", "GET /api/v1/incidents/{incident_id}/postmortem"} <= labels
    failures: list[str] = []
    for operation in operations:
        raw = operation.definition.raw
        takes_input = bool(raw.get("parameters") or raw.get("requestBody"))
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)[: 1 + takes_input]:

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def check(case: schemathesis.Case) -> None:
                case.call_and_validate(base_url=server.base_url, headers=AUTH, checks=CHECKS)

            try:
                check()
            except (Exception, BaseExceptionGroup) as exc:  # report every operation's
                failures.append(f"{operation.label} ({mode.value}): {exc!s:.2000}")
    assert not failures, "\n\n".join(failures) + "\n\nserver log:\n" + server.log()[-5000:]
    # The generated requests got through too, not only refused: each of these answered 2xx.
    assert {
        ("GET", "/api/v1/alerts"),
        ("GET", "/api/v1/incidents"),
        ("GET", "/api/v1/reports"),
        ("GET", "/api/v1/incidents/{incident_id}/postmortem"),
        ("POST", "/api/v1/silences"),
        ("POST", "/webhooks/alertmanager"),
        ("POST", "/webhooks/generic"),
        ("POST", "/webhooks/nginx"),
    } <= succeeded(httpx.get(server.base_url + "/metrics").text)


def succeeded(metrics: str) -> set[tuple[str, str]]:
    """(method, route) pairs the server answered with a 2xx, from its latency histogram."""
    return {
        (sample.labels["method"], sample.labels["route"])
        for family in text_string_to_metric_families(metrics)
        if family.name == "firebell_http_request_duration_seconds"
        for sample in family.samples
        if sample.name.endswith("_count") and sample.labels["status"].startswith("2")
    }
