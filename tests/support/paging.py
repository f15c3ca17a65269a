"""Shared pieces for the paging tests: a settable clock, configs, Alertmanager payloads."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.config import Settings, parse_config

T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


@dataclass
class Clock:
    """An injectable clock: tests move time, nothing sleeps."""

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def two_step_config(
    database_url: str,
    sink: str,
    *,
    wait: str = "5m",
    repeat: int = 0,
    group_wait: str = "0s",
    extra: str = "",
) -> str:
    """alice is paged first, bob after `wait`; `sink` is the loopback base URL (json://)."""
    host = sink.removeprefix("http://")
    return f"""
database_url: "{database_url}"
users:
  - {{name: alice, contacts: ["json://{host}/alice"]}}
  - {{name: bob, contacts: ["json://{host}/bob"]}}
escalation_policies:
  - name: ops
    repeat: {repeat}
    steps:
      - {{notify: ["user:alice"], wait: {wait}}}
      - {{notify: ["user:bob"], wait: {wait}}}
route:
  group_wait: {group_wait}
  receiver: {{escalation: ops}}
{extra}
"""


def settings_from(text: str) -> Settings:
    return parse_config(text, {})


def am_payload(
    alertname: str = "HighErrorRate",
    *,
    status: str = "firing",
    instance: str = "node-7.prod:9100",
    summary: str = "API 5xx above 5% for 10m",
    severity: str = "critical",
    service: str = "checkout",
    extra_labels: dict[str, str] | None = None,
) -> bytes:
    labels = {
        "alertname": alertname,
        "instance": instance,
        "severity": severity,
        "service": service,
        **(extra_labels or {}),
    }
    alert: dict[str, Any] = {
        "status": status,
        "labels": labels,
        "annotations": {"summary": summary, "runbook_url": "https://runbooks.example.org/5xx"},
        "startsAt": "2026-05-04T09:58:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example.org/graph?g0.expr=rate",
        "fingerprint": hashlib.sha256(f"{alertname}|{instance}|{service}".encode()).hexdigest()[
            :16
        ],
    }
    body = {
        "version": "4",
        "groupKey": "{}:{alertname=" + json.dumps(alertname) + "}",
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "firebell",
        "groupLabels": {"alertname": alertname},
        "commonLabels": labels,
        "commonAnnotations": alert["annotations"],
        "externalURL": "http://alertmanager.example.org",
        "alerts": [alert],
    }
    return json.dumps(body).encode()


@dataclass
class RecordingNotifier:
    """A notifier that answers from a script and remembers every send (kind apprise)."""

    answers: list[Any] = field(default_factory=list)  # DeliveryResult per call; last repeats
    sent: list[tuple[str, Any]] = field(default_factory=list)
    kind: str = "apprise"

    async def send(self, target: str, notification: Any) -> Any:
        from integrations.notifiers import DeliveryResult

        self.sent.append((target, notification))
        if not self.answers:
            return DeliveryResult.delivered("recorded")
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def am_storm_payload(names: Sequence[str], **kwargs: Any) -> bytes:
    """One Alertmanager post with one firing alert per name (each its own incident
    under the default group_by [service, alertname])."""
    summary = kwargs.pop("summary", "API 5xx above 5% for 10m")
    alerts = [
        json.loads(am_payload(name, summary=f"{name}: {summary}", **kwargs))["alerts"][0]
        for name in names
    ]
    body = json.loads(am_payload(names[0], **kwargs))
    body["alerts"] = alerts
    return json.dumps(body).encode()
