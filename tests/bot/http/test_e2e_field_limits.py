"""End to end against a real `firebell serve` on SQLite and PostgreSQL: values too long
for a column, NUL characters and lone surrogates are stored or refused by name, the same
on both databases, and one bad alert never costs the body's other alerts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests.support.server_process import ServerProcess
from tests.support.webhook_payloads import sentry_headers, sentry_issue

pytestmark = pytest.mark.slow

TOKENS = {"API_TOKEN": "api-token-0123456789", "SENTRY_SECRET": "sentry-secret-0123456789"}
CONFIG = """\
database_url: {database_url}
api_tokens: ["${{API_TOKEN}}"]
sources:
  sentry:
    client_secret: "${{SENTRY_SECRET}}"
"""
AUTH = {"Authorization": f"Bearer {TOKENS['API_TOKEN']}"}
JSON = {**AUTH, "Content-Type": "application/json"}


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path, CONFIG.format(database_url=database_url), env=TOKENS)
    if not database_url.startswith("sqlite"):
        result = proc.cli("db", "upgrade")
        assert result.returncode == 0, result.stderr
    with proc:
        yield proc


def firing(**labels: str) -> dict[str, object]:
    return {"status": "firing", "labels": labels, "annotations": {"summary": labels["alertname"]}}


def test_long_and_nul_values_are_stored_or_refused_by_name(server: ServerProcess) -> None:
    alerts = [
        firing(alertname="Good", service="api"),
        firing(alertname="TooLong", service="s" * 201),
        firing(alertname="NulService", service="pay\x00ments"),
        firing(alertname="A" * 300, service="api"),
        firing(alertname="B" * 3000, service="api"),
        firing(alertname="NulLabel", service="api", instance="db\x001"),
        {"status": "firing", "labels": {"alertname": "Surrogate\ud800", "service": "api"}},
    ]
    # ensure_ascii: NUL travels as \u0000 and the lone surrogate as \ud800, as JSON has them.
    body = json.dumps({"version": "4", "status": "firing", "alerts": alerts}).encode()
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        posted = http.post("/webhooks/alertmanager", content=body, headers=JSON)
        assert posted.status_code == 422, posted.text
        problem = posted.json()
        assert problem["field"] == "alerts[1].labels.service"
        assert problem["refused"] == [
            {
                "field": "alerts[1].labels.service",
                "detail": "longer than 200 characters (201): too long to store",
            }
        ]
        assert problem["accepted"]["alerts"] == 6
        assert problem["accepted"]["decisions"] == {"new": 6}

        listed = http.get("/api/v1/alerts", params={"limit": 100}, headers=AUTH)
        assert listed.status_code == 200, listed.text
        by_name = {a["labels"]["alertname"]: a for a in listed.json()["items"]}
        assert set(by_name) == {
            "Good", "NulService", "A" * 300, "B" * 3000, "NulLabel", "Surrogate\ufffd",
        }  # fmt: skip
        assert by_name["NulService"]["service"] == "pay\ufffdments"
        assert by_name["NulLabel"]["labels"]["instance"] == "db\ufffd1"
        assert by_name["B" * 3000]["title"] == "B" * 3000  # stored in full

        # Sending it again changes nothing and still never answers 500.
        again = http.post("/webhooks/alertmanager", content=body, headers=JSON)
        assert again.status_code == 422
        assert again.json()["accepted"]["decisions"] == {"repeat": 6}

        issue = orjson.loads(sentry_issue("created"))
        issue["data"]["issue"]["title"] = "KeyError\x00 in checkout"
        sentry_body = orjson.dumps(issue)
        sentry = http.post(
            "/webhooks/sentry",
            content=sentry_body,
            headers=sentry_headers(sentry_body, TOKENS["SENTRY_SECRET"]),
        )
        assert sentry.status_code == 202, sentry.text
        titles = [
            a["title"]
            for a in http.get("/api/v1/alerts?source=sentry", headers=AUTH).json()["items"]
        ]
        assert titles == ["KeyError\ufffd in checkout"]

        nginx = http.post(
            "/webhooks/nginx",
            content=b'2024/03/02 10:00:00 [error] 7#7: *1 open() "/x\x00y" failed (2: No file)\n',
            headers={**AUTH, "Content-Type": "text/plain"},
        )
        assert nginx.status_code == 202, nginx.text
        assert http.get("/readyz").status_code == 200
