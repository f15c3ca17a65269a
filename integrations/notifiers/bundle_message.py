"""The text of a pager-storm bundle: one message listing the incidents whose pages to
one contact were held (routing/paging/bundle_store.py). A TextMessage, so every
notifier that sends plain text can send it (apprise, json://, Slack, Discord)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from integrations.notifiers.base import TextMessage
from integrations.notifiers.message import MAX_SUMMARY_LINES, SUMMARY_LINE_LIMIT, clip
from routing.intake.alert import Severity


@dataclass(frozen=True, slots=True)
class BundledIncident:
    id: int
    title: str
    severity: Severity
    service: str = ""


def bundled_incidents(payload: Mapping[str, Any]) -> list[BundledIncident]:
    """The incidents a bundle row's payload lists (ValueError/KeyError when malformed)."""
    items = payload["incidents"]
    if not isinstance(items, list) or not items:
        raise ValueError("a bundle lists no incidents")
    return [
        BundledIncident(
            int(i["id"]), str(i["title"]), Severity(i["severity"]), str(i.get("service") or "")
        )
        for i in items
    ]


def bundle_message(
    incidents: Sequence[BundledIncident],
    recipient: str,
    public_url: str | None,
    chat_command: str | None,
) -> TextMessage:
    """ "[CRITICAL] 12 incidents paged together" and one line per incident with its link."""
    worst = Severity.highest([i.severity for i in incidents])
    count = len(incidents)
    title = f"[{worst.value.upper()}] {count} incidents paged together"
    lines = [
        f"{count} new incidents for {recipient or 'you'} in a pager storm, "
        f"highest severity {worst.value}:"
    ]
    for item in incidents[:MAX_SUMMARY_LINES]:
        where = f"{item.service}: " if item.service else ""
        what = " ".join(item.title.split())
        line = f"- #{item.id} [{item.severity.value.upper()}] {where}{what}"
        line = clip(line, SUMMARY_LINE_LIMIT)
        if public_url:
            line += f" {public_url}/incidents/{item.id}"
        lines.append(line)
    if count > MAX_SUMMARY_LINES:
        lines.append(f"- … and {count - MAX_SUMMARY_LINES} more")
    api = f"POST {public_url or ''}/api/v1/incidents/ID/ack"
    how = f"{chat_command} ack ID or {api}" if chat_command else api
    lines.append(f"To acknowledge each: {how}")
    return TextMessage(title=title, text="\n".join(lines))
