"""Grouping end to end: real payloads posted to a real `firebell serve` on a loopback port,
on SQLite and PostgreSQL, and the incidents read back through the API."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server_process import ServerProcess
from tests.support.webhook_payloads import (
    am_alert,
    am_webhook,
    nginx_lines,
    sentry_headers,
    sentry_issue,
)

pytestmark = pytest.mark.slow

TOKENS = {
    "FIREBELL_API_TOKEN": "api-token-0123456789",
    "AM_TOKEN": "am-token-0123456789",
    "SENTRY_CLIENT_SECRET": "sentry-secret-0123456789",
    "NGINX_TOKEN": "nginx-token-0123456789",
}
CORRELATE_WITHIN = 3  # seconds
CONFIG = """\
database_url: {database_url}
api_tokens: ["${{FIREBELL_API_TOKEN}}"]
sources:
  alertmanager:
    bearer_token: "${{AM_TOKEN}}"
  sentry:
    client_secret: "${{SENTRY_CLIENT_SECRET}}"
    services: {{backend: api}}
  nginx:
    token: "${{NGINX_TOKEN}}"
grouping:
  group_by: [service, alertname]
  correlate_within: {correlate_within}s
route:
  routes:
    - matchers: ['service="db"']
      group_by: [service]
    - matchers: ['service="cache"']
      group_by: ['...']
"""
API = {"Authorization": f"Bearer {TOKENS['FIREBELL_API_TOKEN']}"}
AM = {"Authorization": f"Bearer {TOKENS['AM_TOKEN']}", "Content-Type": "application/json"}
NGINX = {"Authorization": f"Bearer {TOKENS['NGINX_TOKEN']}", "Content-Type": "text/plain"}


@pytest.fixture
def http(database_url: str, tmp_path: Path) -> Iterator[httpx.Client]:
    config = CONFIG.format(database_url=database_url, correlate_within=CORRELATE_WITHIN)
    proc = ServerProcess(tmp_path, config, env=TOKENS)
    if not database_url.startswith("sqlite"):
        result = proc.cli("db", "upgrade")
        assert result.returncode == 0, result.stderr
    with proc, httpx.Client(base_url=proc.base_url, timeout=10) as client:
        yield client


def post_am(http: httpx.Client, *alerts: dict[str, Any]) -> None:
    posted = http.post("/webhooks/alertmanager", content=am_webhook(list(alerts)), headers=AM)
    assert posted.status_code == 202, posted.text


def post_sentry(http: httpx.Client) -> None:
    body = sentry_issue("created")
    headers = sentry_headers(body, TOKENS["SENTRY_CLIENT_SECRET"])
    posted = http.post("/webhooks/sentry", content=body, headers=headers)
    assert posted.status_code == 202, posted.text


def alerts_by_name(http: httpx.Client) -> dict[str, dict[str, Any]]:
    """Alertmanager alerts by alertname, the others by source."""
    items = http.get("/api/v1/alerts", headers=API).json()["items"]
    return {a["labels"].get("alertname", a["source"]): a for a in items}


def test_no_service_no_wildcards_and_the_route_group_by(http: httpx.Client) -> None:
    # An Nginx upstream error of a server no `services` entry names: service unknown.
    posted = http.post("/webhooks/nginx", content=nginx_lines(1), headers=NGINX)
    assert posted.status_code == 202, posted.text
    # A critical Alertmanager alert with neither `service` nor `job`.
    cert = am_alert("CertExpiringSoon", instance="lb-1:443")
    del cert["labels"]["service"]
    post_am(http, cert)
    alerts = alerts_by_name(http)
    assert set(alerts) == {"CertExpiringSoon", "nginx"}
    nginx, am = alerts["nginx"], alerts["CertExpiringSoon"]
    assert nginx["service"] == am["service"] == "unknown"  # still shown as unknown
    assert nginx["incident_id"] != am["incident_id"]
    assert am["why"]["grouping"].endswith("no known service")
    nginx_incident = http.get(f"/api/v1/incidents/{nginx['incident_id']}", headers=API).json()
    assert (nginx_incident["severity"], nginx_incident["alert_count"]) == ("error", 1)

    # The route for db groups by service alone; the one for cache by every label.
    post_am(http, am_alert("Disk", service="db"), am_alert("Replication", service="db"))
    post_am(http, am_alert("Evictions", service="cache", instance="c-1:9100"),
            am_alert("Evictions", service="cache", instance="c-2:9100"))  # fmt: skip
    # Elsewhere the root's group_by (grouping.group_by): one incident per alertname.
    post_am(http, am_alert("Disk", service="web"), am_alert("Replication", service="web"))
    items = http.get("/api/v1/alerts", headers=API).json()["items"]
    incidents: dict[str, set[int]] = {}
    for item in items:
        incidents.setdefault(item["service"], set()).add(item["incident_id"])
    assert (len(incidents["db"]), len(incidents["cache"]), len(incidents["web"])) == (1, 2, 2)


def test_another_source_joins_within_correlate_within_and_not_after(http: httpx.Client) -> None:
    post_sentry(http)  # project backend -> service api
    post_am(http, am_alert("HighErrorRate"))
    alerts = alerts_by_name(http)
    issue = alerts["sentry"]
    high = alerts["HighErrorRate"]
    assert high["incident_id"] == issue["incident_id"]
    assert "by correlation: service api, it holds alerts of sentry" in high["why"]["grouping"]
    incident = http.get(f"/api/v1/incidents/{issue['incident_id']}", headers=API).json()
    assert incident["why"]["sources"] == ["alertmanager", "sentry"]
    assert incident["severity"] == "critical"

    time.sleep(CORRELATE_WITHIN + 0.5)
    # Another alertname of the service, after the window: its own incident.
    post_am(http, am_alert("DiskFull"))
    # The correlated alertname's group still belongs to the Sentry incident.
    post_am(http, am_alert("HighErrorRate", instance="api-2:9100"))
    items = http.get("/api/v1/alerts", headers=API).json()["items"]
    by_instance = {(a["labels"].get("alertname"), a["labels"].get("instance")): a for a in items}
    assert by_instance[("DiskFull", "api-1:9100")]["incident_id"] != issue["incident_id"]
    second = by_instance[("HighErrorRate", "api-2:9100")]
    assert second["incident_id"] == issue["incident_id"]
    assert second["why"]["grouping"].startswith(
        f"joined incident #{issue['incident_id']}: same group"
    )
