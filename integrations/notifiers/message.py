"""Pure renderers: one Notification as plain text, Slack Block Kit and a Discord embed."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from integrations.notifiers.base import Notification
from integrations.notifiers.button import buttons_for, discord_custom_id, slack_block_id
from routing.basics.duration import format_duration
from routing.intake.alert import Severity

# Limits from the Slack Block Kit and Discord API references; exceeding them makes the
# whole post fail (Slack: invalid_blocks, Discord: 400), so every field is clipped.
SLACK_HEADER_LIMIT = 150
SLACK_SECTION_LIMIT = 3000
SLACK_FIELD_LIMIT = 2000
SLACK_BUTTON_TEXT_LIMIT = 75
SLACK_MAX_BLOCKS = 50
SLACK_FALLBACK_LIMIT = 3900  # Slack truncates top-level text beyond 4000 characters
DISCORD_CONTENT_LIMIT = 2000
DISCORD_TITLE_LIMIT = 256
DISCORD_DESCRIPTION_LIMIT = 4096
DISCORD_FIELD_VALUE_LIMIT = 1024
DISCORD_FOOTER_LIMIT = 2048
DISCORD_EMBED_TOTAL_LIMIT = 6000

MAX_SUMMARY_LINES = 50  # a storm of 500 alerts must not become a 500-line page
SUMMARY_LINE_LIMIT = 300
MAX_SOURCE_LINKS = 10

SEVERITY_COLORS = {
    Severity.CRITICAL: 0xE01E5A,
    Severity.ERROR: 0xE67E22,
    Severity.WARNING: 0xF1C40F,
    Severity.INFO: 0x3498DB,
}
RESOLVED_COLOR = 0x2EB67D

_SLACK_EMOJI = {
    Severity.CRITICAL: ":red_circle:",
    Severity.ERROR: ":large_orange_circle:",
    Severity.WARNING: ":large_yellow_circle:",
    Severity.INFO: ":large_blue_circle:",
}
_UNICODE_EMOJI = {
    Severity.CRITICAL: "\N{LARGE RED CIRCLE}",
    Severity.ERROR: "\N{LARGE ORANGE CIRCLE}",
    Severity.WARNING: "\N{LARGE YELLOW CIRCLE}",
    Severity.INFO: "\N{LARGE BLUE CIRCLE}",
}


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


def _summary_lines(n: Notification) -> tuple[list[str], int]:
    lines = [clip(_one_line(s), SUMMARY_LINE_LIMIT) for s in n.summaries if s.strip()]
    shown = lines[:MAX_SUMMARY_LINES]
    return shown, len(lines) - len(shown)


def _labels_phrase(n: Notification) -> str | None:
    if not n.labels:
        return None
    return ", ".join(f"{k}={v}" for k, v in sorted(n.labels.items()))


def _is_web_url(url: str) -> bool:
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
    summaries, hidden = _summary_lines(n)
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
    if labels := _labels_phrase(n):
        lines.append(f"Labels: {labels}")
    return "\n".join(lines)


# ---------------------------------------------------------------- Slack


def slack_escape(text: str) -> str:
    """Slack's three control characters; also stops alert text from forging <!channel>."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(url: str, label: str) -> str:
    if not _is_web_url(url):
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
    summaries, hidden = _summary_lines(n)
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
    footer = [p for p in (ack_phrase(n), _labels_phrase(n)) if p]
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


# ---------------------------------------------------------------- Discord


def discord_escape(text: str) -> str:
    """Backslash Discord markdown so alert text shows literally."""
    for char in ("\\", "*", "_", "~", "`", "|", ">", "#"):
        text = text.replace(char, "\\" + char)
    # Brackets alone are harmless and common ("[CRITICAL]"); only a masked link needs "](".
    return text.replace("](", "]\\(")


def discord_color(n: Notification) -> int:
    return RESOLVED_COLOR if n.status == "resolved" else SEVERITY_COLORS[n.severity]


def render_discord_embed(n: Notification) -> dict[str, Any]:
    """One embed: coloured by severity, facts as fields, alert lines and links below."""
    emoji = "\N{WHITE HEAVY CHECK MARK}" if n.status == "resolved" else _UNICODE_EMOJI[n.severity]
    fields = [
        ("Severity", n.severity.value),
        ("Service", n.service),
        ("Status", status_phrase(n)),
        ("Occurrences", occurrence_phrase(n)),
    ]
    if escalation := escalation_phrase(n):
        fields.append(("Escalation", escalation))
    embed: dict[str, Any] = {
        "title": clip(f"{emoji} {render_title(n)}", DISCORD_TITLE_LIMIT),
        "color": discord_color(n),
        "fields": [
            {
                "name": name,
                # Discord rejects an empty or blank field value with a 400.
                "value": clip(discord_escape(value), DISCORD_FIELD_VALUE_LIMIT)
                if value.strip()
                else "-",
                "inline": name != "Occurrences",
            }
            for name, value in fields
        ],
        "timestamp": n.first_seen_utc.isoformat(),
    }
    if n.incident_url and _is_web_url(n.incident_url):
        embed["url"] = n.incident_url
    footer = " · ".join(p for p in (f"Incident #{n.incident_id}", ack_phrase(n)) if p)
    embed["footer"] = {"text": clip(footer, DISCORD_FOOTER_LIMIT)}

    used = len(embed["title"]) + len(embed["footer"]["text"])
    used += sum(len(f["name"]) + len(f["value"]) for f in embed["fields"])
    budget = min(DISCORD_DESCRIPTION_LIMIT, DISCORD_EMBED_TOTAL_LIMIT - used)
    description = _discord_description(n, budget)
    if description:
        embed["description"] = description
    return embed


def _discord_description(n: Notification, budget: int) -> str:
    links = []
    if n.runbook_url:
        links.append(f"**Runbook:** {_discord_link(n.runbook_url, 'runbook')}")
    sources = list(n.source_urls)
    if sources:
        shown = [
            _discord_link(u, f"source {i}") for i, u in enumerate(sources[:MAX_SOURCE_LINKS], 1)
        ]
        links.append(f"**Sources:** {' · '.join(shown)}")
    if labels := _labels_phrase(n):
        links.append(f"**Labels:** {discord_escape(labels)}")
    tail = "\n".join(links)
    summaries, hidden = _summary_lines(n)
    head = ""
    if summaries:
        # Links matter more than the 40th alert line, so the alert list gets what is left.
        head = _discord_alert_block(summaries, hidden, budget - len(tail) - 2)
    return clip("\n\n".join(p for p in (head, tail) if p), max(budget, 0))


def _discord_alert_block(summaries: list[str], hidden: int, limit: int) -> str:
    """Alert lines in a code block: instance names like node_1 show literally, unescaped."""
    # A stray ``` inside a line would close the block early; a zero-width space defuses it.
    lines = [s.replace("```", "`\u200b``") for s in summaries]
    opening, closing = "**Alerts**\n```\n", "\n```"
    body: list[str] = []
    for index, line in enumerate(lines):
        remaining = len(lines) - index + hidden
        candidate = "\n".join([*body, line])
        reserve = len(f"\n… and {remaining} more")
        if len(opening) + len(candidate) + reserve + len(closing) > limit:
            body.append(f"… and {remaining} more")
            break
        body.append(line)
    else:
        if hidden:
            body.append(f"… and {hidden} more")
    if not body or len(opening) + len(closing) + len(body[0]) > limit:
        return ""
    return opening + "\n".join(body) + closing


def _discord_link(url: str, label: str) -> str:
    if not _is_web_url(url):
        return discord_escape(url)
    # ')' would end the markdown link early; percent-encoding keeps the URL equivalent.
    return f"[{label}]({url.replace(')', '%29').replace(' ', '%20')})"


def discord_components(n: Notification) -> list[dict[str, Any]]:
    """One action row of buttons (none once resolved); the runbook as a link button."""
    buttons: list[dict[str, Any]] = [
        {
            "type": 2,
            "style": b.discord_style,
            "label": b.label,
            "custom_id": discord_custom_id(b.action, n.incident_id),
        }
        for b in buttons_for(n.status)
    ]
    if buttons and n.runbook_url and _is_web_url(n.runbook_url) and len(n.runbook_url) <= 512:
        buttons.append({"type": 2, "style": 5, "label": "Runbook", "url": n.runbook_url})
    return [{"type": 1, "components": buttons}] if buttons else []


def render_discord_content(n: Notification) -> str:
    return clip(discord_escape(render_title(n)), DISCORD_CONTENT_LIMIT)


def discord_message(n: Notification) -> dict[str, Any]:
    """The body of POST / PATCH /channels/{id}/messages."""
    return {
        "content": render_discord_content(n),
        "embeds": [render_discord_embed(n)],
        "components": discord_components(n),
        # Alert text is not trusted: it must never ping @everyone or a role.
        "allowed_mentions": {"parse": []},
    }
