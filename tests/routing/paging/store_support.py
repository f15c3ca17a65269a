"""Shared by the paging store tests: the policy config, alerts, and the Intake's paging hook."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from routing.intake.alert import Alert, AlertStatus, Severity
from routing.intake.fingerprint import fingerprint_of
from routing.intake.ingest import ingest
from routing.intake.submission import BatchOutcome, IngestPolicy, Submission
from routing.paging.escalation_steps import run_due_escalations
from routing.paging.escalation_store import start_paging
from routing.paging.outbox import notifications_of
from routing.paging.policy import PolicyConfig
from routing.response.incidents import get_incident

CONFIG = PolicyConfig.model_validate(
    {
        "users": [
            {
                "name": "alice",
                "contacts": ["json://127.0.0.1:1/alice", "ntfy://ntfy.example/alice"],
            },
            {"name": "bob", "contacts": ["json://127.0.0.1:1/bob"]},
        ],
        "teams": [{"name": "ops", "members": ["alice"], "channels": ["slack:#ops"]}],
        "schedules": [
            {"name": "primary", "layers": [{"rotation": "weekly", "members": ["alice"]}]}
        ],
        "escalation_policies": [
            {
                "name": "ops",
                "repeat": 1,
                "steps": [
                    {"notify": ["schedule:primary"], "wait": "5m"},
                    {"notify": ["user:bob", "team:ops"], "wait": "5m"},
                ],
            }
        ],
        "route": {
            "receiver": {"escalation": "ops", "channels": ["json://127.0.0.1:1/channel"]},
            "group_wait": "30s",
        },
        "inhibit_rules": [
            {
                "source_matchers": ['alertname="ClusterDown"'],
                "target_matchers": ['severity="warning"'],
                "equal": ["service"],
            }
        ],
    }
)
WAIT = timedelta(seconds=30)


def alert(
    name: str = "HighLatency",
    status: str = "firing",
    severity: Severity = Severity.CRITICAL,
    **labels: str,
) -> Alert:
    identity = {"alertname": name, "service": "api", **labels}
    return Alert(
        "alertmanager",
        fingerprint_of("alertmanager", identity),
        AlertStatus(status),
        severity,
        "api",
        name,
        labels={**identity, "severity": severity.value},
        annotations={"summary": f"{name} summary"},
        fingerprint_fields=identity,
    )


def receive(
    engine: Engine, alerts: list[Alert], at: datetime, config: PolicyConfig = CONFIG
) -> BatchOutcome:
    """What the Intake does: ingest and the paging hook in one transaction."""
    with engine.begin() as conn:
        outcome = ingest(conn, [Submission("alertmanager", alerts, body=b"{}")], at, IngestPolicy())
        start_paging(conn, outcome.incident_events, at, config)
    return outcome


def count(engine: Engine, table: Any, *where: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def steps(engine: Engine, at: datetime, config: PolicyConfig = CONFIG) -> list[Any]:
    with engine.begin() as conn:
        return run_due_escalations(conn, config, at)


def timeline(engine: Engine, incident_id: int = 1) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [(t["kind"], t["message"]) for t in get_incident(conn, incident_id)["timeline"]]


def pages(engine: Engine, incident_id: int = 1) -> list[tuple[str, str, str | None]]:
    with engine.connect() as conn:
        rows = notifications_of(conn, incident_id)
    return [(r["kind"], r["address"], r["step"]) for r in rows]
