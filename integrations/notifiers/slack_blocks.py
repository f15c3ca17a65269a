"""Slack rendering: Block Kit blocks plus the top-level fallback text of a post."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from integrations.notifiers.base import Notification
from integrations.notifiers.button import buttons_for, slack_block_id
from integrations.notifiers.message import (
    MAX_SOURCE_LINKS,
    ack_phrase,
    clip,
    escalation_phrase,
    is_web_url,
    labels_phrase,
    occurrence_phrase,
    render_text,
    render_title,
    status_phrase,
    summary_lines,
)
from routing.intake.alert import Severity

# Limits from the Slack Block Kit reference; exceeding one makes the whole post fail
# (invalid_blocks), so every field is clipped.
SLACK_HEADER_LIMIT = 150
SLACK_SECTION_LIMIT = 3000
SLACK_FIELD_LIMIT = 2000
SLACK_BUTTON_TEXT_LIMIT = 75
SLACK_MAX_BLOCKS = 50
SLACK_FALLBACK_LIMIT = 3900  # Slack truncates top-level text beyond 4000 characters

_SLACK_EMOJI = {
    Severity.CRITICAL: ":red_circle:",
    Severity.ERROR: ":large_orange_circle:",
    Severity.WARNING: ":large_yellow_circle:",
    Severity.INFO: ":large_blue_circle:",
}


def slack_escape(text: str) -> str:
    """Slack's three control characters; also stops alert text from forging <!channel>."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(url: str, label: str) -> str:
    if not is_web_url(url):
        return slack_escape(url)
    # '|' would end the URL part of <url|label>; percent-encoding keeps the URL equivalent.
    return f"<{slack_escape(url).replace('|', '%7C')}|{slack_escape(label)}>"


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def _mrkdwn(text: str, limit: int) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text, limit)}


def _bulleted(title: str, items: Iterable[str], hidden: int, limit: int) -> str:
    """'*title*' then '• item' lines, stopping (and saying so) before `limit`."""
    items = list(items)
    out = f"*{title}*"
    for index, item in enumerate(items):
        line = f"\n• {item}"
        remaining = len(items) - index + hidden
        reserve = len(f"\n• … and {remaining} more")
        if len(out) + len(line) + reserve > limit:
            return out + f"\n• … and {remaining} more"
        out += line
    return out + (f"\n• … and {hidden} more" if hidden else "")


def render_slack_blocks(n: Notification) -> list[dict[str, Any]]:
    """Block Kit: header, facts, alert lines, links, how to act, and the buttons."""
    emoji = ":white_check_mark:" if n.status == "resolved" else _SLACK_EMOJI[n.severity]
    facts = [
        f"*Severity*\n{n.severity.value}",
        f"*Service*\n{slack_escape(n.service)}",
        f"*Status*\n{slack_escape(status_phrase(n))}",
        f"*Occurrences*\n{slack_escape(occurrence_phrase(n))}",
    ]
    if escalation := escalation_phrase(n):
        facts.append(f"*Escalation*\n{slack_escape(escalation)}")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(f"{emoji} {render_title(n)}", SLACK_HEADER_LIMIT)},
        {
            "type": "section",
            "text": _mrkdwn(f"*Incident #{n.incident_id}*", SLACK_SECTION_LIMIT),
            "fields": [_mrkdwn(f, SLACK_FIELD_LIMIT) for f in facts],
        },
    ]
    summaries, hidden = summary_lines(n)
    if summaries:
        text = _bulleted("Alerts", map(slack_escape, summaries), hidden, SLACK_SECTION_LIMIT)
        blocks.append({"type": "section", "text": _mrkdwn(text, SLACK_SECTION_LIMIT)})
    links = []
    if n.runbook_url:
        links.append(f"*Runbook:* {_slack_link(n.runbook_url, 'runbook')}")
    sources = list(n.source_urls)
    if sources:
        shown = [_slack_link(u, f"source {i}") for i, u in enumerate(sources[:MAX_SOURCE_LINKS], 1)]
        more = (
            f" (+{len(sources) - MAX_SOURCE_LINKS} more)" if len(sources) > MAX_SOURCE_LINKS else ""
        )
        links.append(f"*Sources:* {' · '.join(shown)}{more}")
    if n.incident_url:
        links.append(f"*Incident:* {_slack_link(n.incident_url, f'#{n.incident_id}')}")
    if links:
        blocks.append({"type": "section", "text": _mrkdwn("\n".join(links), SLACK_SECTION_LIMIT)})
    footer = [p for p in (ack_phrase(n), labels_phrase(n)) if p]
    if footer:
        blocks.append(
            {
                "type": "context",
                "elements": [_mrkdwn(slack_escape(p), SLACK_SECTION_LIMIT) for p in footer],
            }
        )
    buttons = buttons_for(n.status)
    if buttons:
        elements = []
        for b in buttons:
            element: dict[str, Any] = {
                "type": "button",
                "action_id": b.slack_action_id,
                "text": _plain(b.label, SLACK_BUTTON_TEXT_LIMIT),
                "value": str(n.incident_id),
            }
            if b.slack_style:
                element["style"] = b.slack_style
            elements.append(element)
        blocks.append(
            {"type": "actions", "block_id": slack_block_id(n.incident_id), "elements": elements}
        )
    return blocks[:SLACK_MAX_BLOCKS]


def render_slack_text(n: Notification) -> str:
    """Top-level `text`: the notification preview and screen-reader fallback for the blocks."""
    return clip(slack_escape(render_text(n)), SLACK_FALLBACK_LIMIT)


def slack_message(n: Notification) -> dict[str, Any]:
    """The `text` + `blocks` part of chat.postMessage / chat.update."""
    return {"text": render_slack_text(n), "blocks": render_slack_blocks(n)}
