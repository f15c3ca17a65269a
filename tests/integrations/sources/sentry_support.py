"""Shared by the Sentry webhook tests: the issue payload, its identity, and parsing by resource."""

from __future__ import annotations

from typing import Any

import orjson

from integrations.sources import SourceOptions
from integrations.sources.sentry import sentry
from routing.intake.fingerprint import fingerprint_of

NO_OPTIONS = SourceOptions()
ISSUE_ID = "4242"
ISSUE_FP = fingerprint_of("sentry", {"issue_id": ISSUE_ID})


def compact(payload: Any) -> bytes:
    """What Sentry sends: compact separators (FORMATS.md §2)."""
    return orjson.dumps(payload)


def issue_payload(action: str, **issue: Any) -> dict[str, Any]:
    body = {
        "id": ISSUE_ID,
        "shortId": "CHECKOUT-7",
        "title": "KeyError: 'cart'",
        "culprit": "checkout.views in pay",
        "level": "error",
        "status": "unresolved",
        "firstSeen": "2024-03-02T10:00:00.500000Z",
        "project": {"id": "17", "name": "Checkout", "slug": "checkout"},
        "metadata": {"type": "KeyError", "value": "'cart'"},
        "assignedTo": None,
    }
    body.update(issue)
    return {
        "action": action,
        "installation": {"uuid": "00000000-0000-4000-8000-000000000000"},
        "data": {"issue": body},
        "actor": {"type": "application", "id": "sentry", "name": "Sentry"},
    }


def parse(resource: str, payload: Any, options: SourceOptions = NO_OPTIONS) -> Any:
    return sentry.parse(compact(payload), {"sentry-hook-resource": resource}, options)
