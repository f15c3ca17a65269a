"""Discord rendering: the message body with its embed, content line and buttons."""

from __future__ import annotations

from typing import Any

from integrations.notifiers.base import Notification
from integrations.notifiers.button import buttons_for, discord_custom_id
from integrations.notifiers.message import (
    MAX_SOURCE_LINKS,
    ack_phrase,
    clip,
    escalation_phrase,
    is_web_url,
    labels_phrase,
    occurrence_phrase,
    render_title,
    status_phrase,
    summary_lines,
)
from routing.intake.alert import Severity

# Limits from the Discord API reference; exceeding one makes the whole post fail
# with a 400, so every field is clipped.
DISCORD_CONTENT_LIMIT = 2000
DISCORD_TITLE_LIMIT = 256
DISCORD_DESCRIPTION_LIMIT = 4096
DISCORD_FIELD_VALUE_LIMIT = 1024
DISCORD_FOOTER_LIMIT = 2048
DISCORD_EMBED_TOTAL_LIMIT = 6000

SEVERITY_COLORS = {
    Severity.CRITICAL: 0xE01E5A,
    Severity.ERROR: 0xE67E22,
    Severity.WARNING: 0xF1C40F,
    Severity.INFO: 0x3498DB,
}
RESOLVED_COLOR = 0x2EB67D
_UNICODE_EMOJI = {
    Severity.CRITICAL: "\N{LARGE RED CIRCLE}",
    Severity.ERROR: "\N{LARGE ORANGE CIRCLE}",
    Severity.WARNING: "\N{LARGE YELLOW CIRCLE}",
    Severity.INFO: "\N{LARGE BLUE CIRCLE}",
}


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
    if n.incident_url and is_web_url(n.incident_url):
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
    if labels := labels_phrase(n):
        links.append(f"**Labels:** {discord_escape(labels)}")
    tail = "\n".join(links)
    summaries, hidden = summary_lines(n)
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
    if not is_web_url(url):
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
    if buttons and n.runbook_url and is_web_url(n.runbook_url) and len(n.runbook_url) <= 512:
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
