"""Shared pieces of the run engine's tests: incidents ingested as the intake does, a
playbook folder, and a loopback Loki that answers in its documented wire format."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from bot.config import parse_config
from bot.runtime.state import ingest_policy
from integrations.connections import CONNECTION_TYPES
from playbooks.catalog import Catalog, load_catalog
from routing.intake.alert import Alert, AlertStatus, Severity
from routing.intake.ingest import ingest
from routing.intake.submission import IncidentEventKind, Submission
from tests.support.loopback_http import RecordedRequest, Reply

LOKI_TOKEN = "loki-bearer-t0ken-9876"


def open_incident(
    engine: Engine,
    at: datetime,
    *,
    source: str = "alertmanager",
    service: str = "api",
    name: str = "HighErrorRate",
    labels: dict[str, str] | None = None,
    fingerprint_fields: dict[str, str] | None = None,
) -> int:
    """Ingest one firing alert (as the intake would) and return its incident's id."""
    alert = Alert(
        source=source,
        fingerprint=hashlib.sha256(f"{source}|{name}|{service}".encode()).hexdigest(),
        status=AlertStatus.FIRING,
        severity=Severity.CRITICAL,
        service=service,
        title=f"{name} on {service}",
        labels={"alertname": name, "service": service, **(labels or {})},
        fingerprint_fields=fingerprint_fields or {"alertname": name},
    )
    policy = ingest_policy(parse_config('database_url: "sqlite://"\n', {}))
    with engine.begin() as conn:
        outcome = ingest(conn, [Submission(source, [alert])], at, policy)
    (event,) = [e for e in outcome.incident_events if e.kind == IncidentEventKind.OPENED]
    return event.incident_id


def write_playbook(folder: Path, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    name = text.split("\n", 1)[0].removeprefix("id: ").strip()
    (folder / f"{name}.yaml").write_text(text)


def loki_connection(url: str) -> dict[str, Any]:
    return {"type": "loki", "url": url, "allow_private": True, "token": LOKI_TOKEN}


def catalog(folder: Path, loki_url: str, secrets: tuple[str, ...] = (LOKI_TOKEN,)) -> Catalog:
    connection = CONNECTION_TYPES["loki"].model_validate(loki_connection(loki_url))
    return load_catalog(folder, {"loki": connection}, secrets)


def loki_body(*lines: str) -> dict[str, Any]:
    """A query_range answer: one stream, newest first (direction=backward)."""
    values = [[str(1796553000000000000 + i), line] for i, line in enumerate(lines)]
    values.reverse()
    stream = {"stream": {"app": "api"}, "values": values}
    return {"status": "success", "data": {"resultType": "streams", "result": [stream]}}


def selector_value(request: RecordedRequest, name: str) -> str:
    """The value of label `name` in the request's LogQL selector ('{step="b"}' -> b)."""
    query = request.query["query"][0]
    marker = f'{name}="'
    start = query.index(marker) + len(marker)
    return query[start : query.index('"', start)]


class Loki:
    """A loopback Loki handler: per `step` label, a script of answers; records each
    request; `stall` makes the first request of a step wait until released."""

    def __init__(self, answers: dict[str, list[Callable[[], Reply]]] | None = None) -> None:
        self.answers = answers or {}
        self.counts: dict[str, int] = {}
        self.stall_step: str | None = None
        self.stalled = threading.Event()  # set once the stalled request arrived
        self.release = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, request: RecordedRequest) -> Reply:
        assert request.path == "/loki/api/v1/query_range"
        assert request.headers.get("authorization") == f"Bearer {LOKI_TOKEN}"
        step = selector_value(request, "step")
        with self._lock:
            self.counts[step] = self.counts.get(step, 0) + 1
            count = self.counts[step]
        if step == self.stall_step and count == 1:
            self.stalled.set()
            self.release.wait(60)
        script = self.answers.get(step) or [lambda: Reply.json(loki_body(f"error in {step}"))]
        return script[min(count, len(script)) - 1]()
