"""Shared text for every renderer: the phrases (title, status, occurrences, escalation)
and the plain-text page. Slack and Discord layouts live in slack_blocks and discord_embed."""

from __future__ import annotations

from datetime import datetime

from integrations.notifiers.base import Notification
from routing.basics.duration import format_duration

MAX_SUMMARY_LINES = 50  # a storm of 500 alerts must not become a 500-line page
SUMMARY_LINE_LIMIT = 300
MAX_SOURCE_LINKS = 10


# ---------------------------------------------------------------- shared phrases


def clip(text: str, limit: int) -> str:
    """Cut to at most `limit` characters, marking the cut with an ellipsis."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def render_title(n: Notification) -> str:
    """ "[CRITICAL] High error rate"; the status replaces the severity once it changed."""
    tag = n.severity.value.upper() if n.status == "triggered" else n.status.upper()
    return f"[{tag}] {_one_line(n.incident_title)}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def occurrence_phrase(n: Notification) -> str:
    """ "12 occurrences (3 alerts) since 2024-05-01 03:12 UTC, last 03:40 UTC (over 28m)"."""
    first, last = n.first_seen_utc, n.last_seen_utc
    times = "occurrence" if n.occurrences == 1 else "occurrences"
    alerts = "alert" if n.alert_count == 1 else "alerts"
    text = f"{n.occurrences} {times} ({n.alert_count} {alerts}) since {_when(first)}"
    if last > first:
        last_text = last.strftime("%H:%M UTC") if last.date() == first.date() else _when(last)
        text += f", last {last_text} (over {format_duration(last - first)})"
    return text


def status_phrase(n: Notification) -> str:
    return f"{n.status} by {n.status_by}" if n.status_by and n.status != "triggered" else n.status


def escalation_phrase(n: Notification) -> str | None:
    """'policy api-oncall, step 2 of 2, pass 1 of 3, paging alice', or None."""
    parts = []
    if n.policy:
        parts.append(f"policy {n.policy}")
    if n.step:
        parts.append(n.step)
    if n.recipient:
        parts.append(f"paging {n.recipient}")
    return ", ".join(parts) or None


def ack_phrase(n: Notification) -> str | None:
    """How to acknowledge, only while there is something to acknowledge."""
    if n.status != "triggered":
        return None
    return f"To acknowledge: {n.ack_hint or f'/incident ack {n.incident_id}'}"


def summary_lines(n: Notification) -> tuple[list[str], int]:
    lines = [clip(_one_line(s), SUMMARY_LINE_LIMIT) for s in n.summaries if s.strip()]
    shown = lines[:MAX_SUMMARY_LINES]
    return shown, len(lines) - len(shown)


def labels_phrase(n: Notification) -> str | None:
    if not n.labels:
        return None
    return ", ".join(f"{k}={v}" for k, v in sorted(n.labels.items()))


def is_web_url(url: str) -> bool:
    return url.startswith(("https://", "http://"))


# ---------------------------------------------------------------- plain text


def render_text(n: Notification) -> str:
    """The plain-text page (apprise, email, ntfy): what someone woken at 3 a.m. needs."""
    lines = [
        render_title(n),
        f"Incident #{n.incident_id}: {n.severity.value} on service {n.service}",
        f"Status: {status_phrase(n)}",
    ]
    if ack := ack_phrase(n):
        lines.append(ack)
    lines.append(f"Occurrences: {occurrence_phrase(n)}")
    if escalation := escalation_phrase(n):
        lines.append(f"Escalation: {escalation}")
    summaries, hidden = summary_lines(n)
    if summaries:
        lines.append("Alerts:")
        lines.extend(f"- {s}" for s in summaries)
        if hidden:
            lines.append(f"- … and {hidden} more")
    if n.runbook_url:
        lines.append(f"Runbook: {n.runbook_url}")
    sources = list(n.source_urls)
    if sources:
        lines.append("Sources:")
        lines.extend(f"- {url}" for url in sources[:MAX_SOURCE_LINKS])
        if len(sources) > MAX_SOURCE_LINKS:
            lines.append(f"- … and {len(sources) - MAX_SOURCE_LINKS} more")
    if n.incident_url:
        lines.append(f"Incident: {n.incident_url}")
    if labels := labels_phrase(n):
        lines.append(f"Labels: {labels}")
    return "\n".join(lines)
