"""Payload builders for end-to-end tests, written from the documented wire formats."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any


def am_alert(
    name: str,
    *,
    status: str = "firing",
    service: str = "api",
    severity: str = "critical",
    instance: str = "api-1:9100",
    summary: str | None = None,
) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": name, "service": service, "severity": severity,
                   "instance": instance},
        "annotations": {"summary": summary or f"{name} on {instance}",
                        "runbook_url": f"https://runbooks.example.com/{name}"},
        "startsAt": "2026-11-24T10:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-11-24T10:05:00Z",
        "generatorURL": f"http://prometheus:9090/graph?g0.expr={name}",
        "fingerprint": hashlib.sha256(f"{name}{service}{instance}".encode()).hexdigest()[:16],
    }  # fmt: skip


def am_webhook(alerts: list[dict[str, Any]], status: str = "firing") -> bytes:
    return json.dumps(
        {
            "version": "4",
            "groupKey": '{}/{}:{alertname="X"}',
            "truncatedAlerts": 0,
            "status": status,
            "receiver": "firebell",
            "groupLabels": {"alertname": "X"},
            "commonLabels": {},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093",
            "alerts": alerts,
        }
    ).encode()


def sentry_issue(action: str, issue_id: str = "1170820242", project: str = "backend") -> bytes:
    return json.dumps(
        {
            "action": action,
            "installation": {"uuid": "7a485448-a9e2-4c85-8a3c-4f44175783c9"},
            "data": {
                "issue": {
                    "id": issue_id,
                    "shortId": "BACKEND-7",
                    "title": "TypeError: cannot read property 'id' of undefined",
                    "culprit": "api/handlers/orders.py in create_order",
                    "level": "error",
                    "status": "resolved" if action == "resolved" else "unresolved",
                    "web_url": f"https://sentry.example.com/issues/{issue_id}/",
                    "project": {"id": "2", "name": "backend", "slug": project,
                                "platform": "python"},
                    "firstSeen": "2026-11-24T09:58:00.000000Z",
                    "lastSeen": "2026-11-24T10:00:00.000000Z",
                    "count": "12",
                    "userCount": 3,
                }
            },
            "actor": {"type": "application", "id": "sentry", "name": "Sentry"},
        },
        separators=(",", ":"),
    ).encode()  # fmt: skip


def sentry_headers(
    body: bytes, secret: str, resource: str = "issue", timestamp: float | None = None
) -> dict[str, str]:
    """Signed like Sentry does; the timestamp is now unless given (Unix seconds)."""
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "Sentry-Hook-Resource": resource,
        "Sentry-Hook-Timestamp": str(int(time.time() if timestamp is None else timestamp)),
        "Sentry-Hook-Signature": signature,
        "Request-ID": "0b2ad2fb5a0b4f3ba4d8b1a8f0b1c1d2",
    }


NGINX_UPSTREAM_LINE = (
    "2026/11/24 10:00:{sec:02d} [error] 1234#1234: *{conn} connect() failed "
    "(111: Connection refused) while connecting to upstream, client: 203.0.113.{client}, "
    'server: api.example.com, request: "GET /v1/orders/{conn}?page=2 HTTP/1.1", '
    'upstream: "http://10.0.0.7:8080/v1/orders/{conn}", host: "api.example.com"'
)


def nginx_lines(count: int) -> bytes:
    return "\n".join(
        NGINX_UPSTREAM_LINE.format(sec=i % 60, conn=1000 + i, client=i % 250) for i in range(count)
    ).encode()
