"""Outbox rows to messages and back: build a Notification from an incident (or a
TextMessage from a silence reminder), apply a DeliveryResult.

All are pure: the worker (bot/paging_worker.py) claims rows, calls the notifier, and
stores what `after_delivery` decides. Retry timing comes only from notifiers/backoff.py.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from integrations.notifiers import DeliveryOutcome, DeliveryResult, Notification, TextMessage
from integrations.notifiers.backoff import (
    DEFAULT_MAX_ATTEMPTS,
    next_attempt_at,
    should_give_up,
)
from integrations.notifiers.bundle_message import bundle_message, bundled_incidents
from routing.intake.alert import Severity
from routing.intake.dedup import flag_holds
from routing.paging.bundle_store import KIND as BUNDLE_KIND
from routing.paging.outbox import Claimed
from routing.paging.silence_reminder import KIND as REMINDER_KIND
from routing.paging.silence_reminder import payload_silence, reminder_text

RUNBOOK_ANNOTATIONS = ("runbook_url", "runbook")
JITTER = 0.2


@dataclass(frozen=True, slots=True)
class LinkSettings:
    """How messages point people back at firebell."""

    public_url: str | None = None  # e.g. https://firebell.example.org
    chat_command: str | None = None  # "/incident" when Slack or Discord is configured


def ack_hint(incident_id: int, links: LinkSettings) -> str:
    """ "/incident ack 42 or POST https://fb.example.org/api/v1/incidents/42/ack"."""
    api = f"{links.public_url or ''}/api/v1/incidents/{incident_id}/ack"
    hints = [f"{links.chat_command} ack {incident_id}"] if links.chat_command else []
    return " or ".join([*hints, f"POST {api}"])


def summary_line(alert: Mapping[str, Any], now: datetime | None = None) -> str:
    """ "node-7:9100 API 5xx above 5%": the `instance` label and `summary` annotation,
    and whether the alert is resolved or flapping (at `now`, when given)."""
    labels: Mapping[str, str] = alert.get("labels") or {}
    annotations: Mapping[str, str] = alert.get("annotations") or {}
    instance = labels.get("instance", "")
    summary = annotations.get("summary") or alert.get("title") or ""
    line = " ".join(part for part in (instance, summary) if part)
    if alert.get("status") == "resolved":
        return line + " (resolved)"
    if _flapping(alert, now):
        # First, so clipping a long summary never hides it.
        line = "[flapping: its reopens are recorded, not paged] " + line
    return line


def _flapping(alert: Mapping[str, Any], now: datetime | None) -> bool:
    flapping = bool(alert.get("flapping"))
    until = alert.get("flapping_until")
    if now is None:
        return flapping
    if until is not None and until.tzinfo is None:  # SQLite hands back naive UTC
        until = until.replace(tzinfo=UTC)
    return flag_holds(flapping, until, now)


def runbook_of(alerts: Sequence[Mapping[str, Any]]) -> str | None:
    for alert in alerts:
        annotations: Mapping[str, str] = alert.get("annotations") or {}
        for key in RUNBOOK_ANNOTATIONS:
            if annotations.get(key):
                return annotations[key]
    return None


def notification_for(
    claimed: Claimed, links: LinkSettings, now: datetime | None = None
) -> Notification:
    """Everything the paged person needs, from the incident and its alerts."""
    row, incident, alerts = claimed.row, claimed.incident, claimed.alerts
    iid = int(incident["id"])
    seen = [a["first_seen"] for a in alerts] or [incident["created_at"]]
    last = [a["last_seen"] for a in alerts] or [incident["updated_at"]]
    sources = list(dict.fromkeys(a["source_url"] for a in alerts if a.get("source_url")))
    return Notification(
        incident_id=iid,
        incident_title=incident["title"],
        severity=Severity(incident["severity"]),
        service=incident["service"],
        status=incident["status"],
        occurrences=sum(int(a["occurrences"]) for a in alerts),
        first_seen=min(seen),
        last_seen=max(last),
        alert_count=int(incident["alert_count"]),
        source_urls=sources,
        runbook_url=runbook_of(alerts),
        policy=row["policy"],
        step=row["step"],
        recipient=row["recipient"] if row["kind"] == "page" else None,
        ack_hint=ack_hint(iid, links),
        labels=dict(incident["group_labels"] or {}),
        summaries=[summary_line(a, now) for a in alerts],
        incident_url=f"{links.public_url}/incidents/{iid}" if links.public_url else None,
        status_by=incident["acknowledged_by"] or incident["resolved_by"],
    )


def reminder_message(row: Mapping[str, Any], links: LinkSettings, now: datetime) -> TextMessage:
    """A silence reminder's text, with the time left at `now` (delivery may be a retry)."""
    silence, origin = payload_silence(row["payload"] or {})
    title, text = reminder_text(silence, origin, now, links.chat_command)
    return TextMessage(title=title, text=text)


def message_for(claimed: Claimed, links: LinkSettings, now: datetime) -> Notification | TextMessage:
    """What a claimed row says: a reminder's plain text, or the incident's notification."""
    if claimed.row["kind"] == REMINDER_KIND:
        return reminder_message(claimed.row, links, now)
    if claimed.row["kind"] == BUNDLE_KIND:
        incidents = bundled_incidents(claimed.row["payload"] or {})
        return bundle_message(
            incidents, claimed.row["recipient"], links.public_url, links.chat_command
        )
    return notification_for(claimed, links, now)


@dataclass(frozen=True, slots=True)
class Applied:
    """What to store for a delivery attempt, and how to count it."""

    values: dict[str, Any]
    outcome: str  # sent / retry / failed (the metric's `outcome` label)
    gave_up: bool = False


def after_delivery(
    result: DeliveryResult,
    attempts_before: int,
    now: datetime,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    rng: random.Random | None = None,
) -> Applied:
    """OK -> sent (keeping the chat message ref for later edits); RETRYABLE -> try again
    at the backoff's time, until the attempt budget is spent; PERMANENT -> failed.

    With `rng`, retries are jittered (shortened by up to 20%) so rows that failed
    together in an outage do not all retry in the same instant."""
    attempts = attempts_before + 1
    base: dict[str, Any] = {"attempts": attempts, "detail": result.detail}
    if result.outcome is DeliveryOutcome.OK:
        return Applied(
            {**base, "status": "sent", "sent_at": now, "message_ref": result.message_ref}, "sent"
        )
    if result.outcome is DeliveryOutcome.RETRYABLE and not should_give_up(attempts, max_attempts):
        when = next_attempt_at(
            attempts,
            now,
            jitter_ratio=JITTER if rng is not None else 0.0,
            rng=rng,
            retry_after=result.retry_after,
        )
        return Applied({**base, "next_attempt_at": when}, "retry")
    return Applied({**base, "status": "failed"}, "failed", gave_up=True)
