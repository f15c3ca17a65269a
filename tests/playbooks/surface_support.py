"""The issue's api-5xx playbook with every log store on loopback far sides that count
what they receive (the surfaces' tests: service, dry-run, REST, CLI, simulate)."""

# ruff: noqa: E501 - the issue's playbook, as the issue writes it

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from integrations.connections import CONNECTION_TYPES
from playbooks.catalog import Catalog, load_catalog
from tests.support.loopback_http import LoopbackServer, RecordedRequest, Reply, start

LOKI_TOKEN = "loki-token-s3cr3t-0123"
ES_API_KEY = "ZXMta2V5LXNlY3JldA=="
SENTRY_TOKEN = "sntrys_sentry-token-0123456789"

# The playbook, as written there (connections point at the loopback servers).
API_5XX = """\
id: api-5xx
description: Recent API errors from every log store
match: ['service="api"', 'severity=~"critical|error"']
run: manual
params:
  window: {type: duration, default: 30m, max: 6h}
steps:
  - id: loki
    uses: logs.loki
    with: {connection: loki, selector: {app: "{{ incident.labels.service }}"}, contains: error, since: "{{ params.window }}", limit: 200}
  - id: es
    uses: logs.elasticsearch
    with: {connection: es, term: {service.name: "{{ incident.labels.service }}"}, match: error, since: "{{ params.window }}", limit: 200}
  - id: file
    uses: logs.file
    with: {connection: applogs, path: /var/log/api/app.log, contains: ERROR, lines: 200}
  - id: journal
    uses: logs.journald
    with: {connection: journal, unit: api.service, since: "{{ params.window }}", priority: err, lines: 200}
  - id: sentry
    uses: logs.sentry_event
    if: "incident.labels.sentry_issue_id is defined"
    with: {connection: sentry, issue_id: "{{ incident.labels.sentry_issue_id }}", event: latest}
    continue_on_error: true
  - id: report
    uses: chat.post
    always: true
    with: {text: "{{ run.summary }}"}
"""

# Only Loki, then a step that reads the first one's outcome.
LOKI_ONLY = """\
id: loki-only
description: Loki errors for the service
match: ['service="api"']
steps:
  - id: loki
    uses: logs.loki
    with: {connection: loki, selector: {app: "{{ incident.labels.service }}"}, contains: error}
  - id: again
    uses: logs.loki
    if: "steps.loki.count > 0"
    with: {connection: loki, selector: {app: "{{ incident.labels.service }}"}}
  - id: report
    uses: chat.post
    with: {text: "loki said {{ steps.loki.summary }}"}
"""

# Matches another service: never the api incidents.
DB_ONLY = """\
id: db-only
match: ['service="db"']
steps:
  - {id: note, uses: chat.post, with: {text: "db"}}
"""


def loki_reply(request: RecordedRequest) -> Reply:
    stream = {"stream": {"app": "api"}, "values": [["1796553000000000000", "error: boom"]]}
    return Reply.json({"status": "success", "data": {"resultType": "streams", "result": [stream]}})


def es_reply(request: RecordedRequest) -> Reply:
    return Reply.json({"hits": {"hits": []}})


def sentry_reply(request: RecordedRequest) -> Reply:
    return Reply.json({}, status=404)


@dataclass
class FarSides:
    loki: LoopbackServer
    es: LoopbackServer
    sentry: LoopbackServer

    def requests(self) -> int:
        return len(self.loki.requests) + len(self.es.requests) + len(self.sentry.requests)

    def connections(self) -> dict[str, dict[str, Any]]:
        return {
            "loki": {"type": "loki", "url": self.loki.base_url, "allow_private": True,
                     "token": LOKI_TOKEN},
            "es": {"type": "elasticsearch", "url": self.es.base_url, "api_key": ES_API_KEY,
                   "index": "logs-*", "allow_private": True},
            "sentry": {"type": "sentry", "url": self.sentry.base_url, "organization": "acme",
                       "token": SENTRY_TOKEN, "allow_private": True},
            "applogs": {"type": "files", "paths": ["/var/log/api/*.log"]},
            "journal": {"type": "journald"},
        }  # fmt: skip

    def with_broken(self) -> dict[str, dict[str, Any]]:
        """The connections plus `broken`: a Loki connection aimed at the Sentry side, which
        answers 404 (a step that keeps failing, to retry or to cancel)."""
        connections = self.connections()
        connections["broken"] = {**connections["loki"], "url": self.sentry.base_url}
        return connections


@contextmanager
def far_sides() -> Iterator[FarSides]:
    with start(loki_reply) as loki, start(es_reply) as es, start(sentry_reply) as sentry:
        yield FarSides(loki, es, sentry)


def write_playbooks(folder: Path, *texts: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for text in texts or (API_5XX, LOKI_ONLY, DB_ONLY):
        name = text.split("\n", 1)[0].removeprefix("id: ")
        (folder / f"{name}.yaml").write_text(text)
    return folder


def catalog_for(folder: Path, sides: FarSides) -> Catalog:
    connections = {
        name: CONNECTION_TYPES[data["type"]].model_validate(data)
        for name, data in sides.connections().items()
    }
    return load_catalog(folder, connections, [LOKI_TOKEN, ES_API_KEY, SENTRY_TOKEN])


def incident(**labels: str) -> dict[str, Any]:
    """An incident as playbooks.incident_view shows it."""
    base = {"alertname": "HighErrorRate", "service": "api", "severity": "critical"}
    return {
        "id": 7,
        "title": "HighErrorRate on api",
        "status": "triggered",
        "severity": "critical",
        "service": "api",
        "url": "",
        "labels": {**base, **labels},
    }
