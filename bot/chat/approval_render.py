"""The approval request as chat shows it, and its buttons' ids on the wire. Pure.

The message names exactly what will run (the rendered request, credentials already
`***` in the stored request), the outputs the step's `show:` names, who may approve,
N of M and the expiry. Buttons carry the run, the step and the request hash's prefix:
a click on a message showing an older request (voided since) is refused, so nobody
approves what they did not see.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from playbooks.dry_run import request_line

ApprovalAction = Literal["approve", "reject", "again"]
HASH_SHOWN = 12  # characters of the request hash on buttons and in the message
BODY_CHARS = 1200
EXCERPT_CHARS = 400
# Slack action_id "playbook_approve", value "<run>:<step>:<hash prefix>"; Discord the
# same in one custom_id "approval:approve:<run>:<step>:<hash prefix>", which Discord caps
# at 100 characters: a step id too long for it is left out (the hash names the step).
SLACK_APPROVAL_ACTIONS = re.compile(r"^playbook_(approve|reject|again)$")
DISCORD_CUSTOM_ID_LIMIT = 100
DISCORD_APPROVAL_TEMPLATE = (
    r"approval:(?P<action>approve|reject|again):(?P<run>\d{1,18}):"
    r"(?P<step>[a-z0-9][a-z0-9_-]{0,63})?:(?P<hash>[0-9a-f]{0,12})"
)
_VALUE = re.compile(
    r"(?P<run>\d{1,18}):(?P<step>[a-z0-9][a-z0-9_-]{0,63}):(?P<hash>[0-9a-f]{0,12})"
)
ENDED = {
    "approved": "approved",
    "rejected": "rejected",
    "expired": "expired: nobody approved in time (not a rejection)",
    "cancelled": "cancelled",
}


@dataclass(frozen=True, slots=True)
class Click:
    action: ApprovalAction
    run_id: int
    step_id: str | None  # None: the run's step whose request hash starts with hash_prefix
    hash_prefix: str


def approval_custom_id(click: Click) -> str:
    """The button's custom_id; without the step id when it would not fit Discord's cap."""
    step = click.step_id or ""
    full = f"approval:{click.action}:{click.run_id}:{step}:{click.hash_prefix}"
    if len(full) <= DISCORD_CUSTOM_ID_LIMIT:
        return full
    return f"approval:{click.action}:{click.run_id}::{click.hash_prefix}"


@dataclass(frozen=True, slots=True)
class Shown:
    """What the approval message shows at one moment."""

    playbook: str
    run_id: int
    step_id: str
    started_by: str
    request: Mapping[str, Any]
    request_hash: str
    outputs: Sequence[tuple[str, str]]  # (step id, its excerpt or summary) of `show:`
    who_may: str
    approved_by: Sequence[str]
    required: int
    expires_at: datetime | None
    state: str  # awaiting, or how it ended: approved / rejected / expired / cancelled
    decided: str = ""  # "rejected by bob", "approved by bob, carol"


def approval_text(shown: Shown) -> str:
    head = (
        f"Approval needed: playbook {shown.playbook}, step {shown.step_id} "
        f"(run #{shown.run_id}, started by {shown.started_by})"
    )
    if shown.state != "awaiting":
        head = f"Approval {ENDED.get(shown.state, shown.state)}: playbook {shown.playbook}, "
        head += f"step {shown.step_id} (run #{shown.run_id})"
        if shown.decided:
            head += f" — {shown.decided}"
    lines = [head, f"Will send: {request_line(shown.request) or 'the step as planned'}"]
    body = shown.request.get("body")
    if body not in (None, "", {}):
        text = body if isinstance(body, str) else json.dumps(body, indent=1, sort_keys=True)
        lines.append("```\n" + _clip(text, BODY_CHARS).replace("```", "'''") + "\n```")
    for step_id, excerpt in shown.outputs:
        fenced = _clip(excerpt, EXCERPT_CHARS).replace("```", "'''")
        lines.append(f"{step_id}:\n```\n{fenced}\n```")
    if shown.state == "awaiting":
        lines.append(f"Who may approve: {shown.who_may}")
        got = ", ".join(shown.approved_by)
        status = f"Approvals: {len(shown.approved_by)} of {shown.required}"
        lines.append(status + (f" ({got})" if got else ""))
        if shown.expires_at is not None:
            lines.append(f"Expires {shown.expires_at.strftime('%Y-%m-%d %H:%M UTC')}")
    lines.append(f"Request {shown.request_hash[:HASH_SHOWN]}")
    return "\n".join(lines)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def buttons(state: str) -> tuple[tuple[ApprovalAction, str], ...]:
    """Approve and Reject while it waits; Request again once it expired; else none."""
    if state == "awaiting":
        return (("approve", "Approve"), ("reject", "Reject"))
    if state == "expired":
        return (("again", "Request again"),)
    return ()


def button_value(shown: Shown) -> str:
    return f"{shown.run_id}:{shown.step_id}:{shown.request_hash[:HASH_SHOWN]}"


def slack_approval_blocks(text: str, shown: Shown) -> list[dict[str, Any]]:
    """The (escaped) text, then its buttons."""
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}
    ]
    style = {"approve": "primary", "reject": "danger", "again": "primary"}
    elements = [
        {
            "type": "button",
            "action_id": f"playbook_{action}",
            "text": {"type": "plain_text", "text": label, "emoji": False},
            "value": button_value(shown),
            "style": style[action],
        }
        for action, label in buttons(shown.state)
    ]
    if elements:
        blocks.append(
            {"type": "actions", "block_id": f"approval:{shown.run_id}", "elements": elements}
        )
    return blocks


def discord_approval_components(shown: Shown) -> list[Any]:
    style = {"approve": 3, "reject": 4, "again": 1}  # success, danger, primary
    row = [
        {
            "type": 2,
            "style": style[action],
            "label": label,
            "custom_id": approval_custom_id(
                Click(action, shown.run_id, shown.step_id, shown.request_hash[:HASH_SHOWN])
            ),
        }
        for action, label in buttons(shown.state)
    ]
    return [{"type": 1, "components": row}] if row else []


def parse_slack_click(action_id: str, value: str) -> Click:
    """ "playbook_approve" + "3:hotfix:ab12cd" -> Click; ValueError naming the field."""
    found = SLACK_APPROVAL_ACTIONS.match(action_id)
    if found is None:
        raise ValueError(f"action_id: not an approval button: {action_id!r}")
    parts = _VALUE.fullmatch(value)
    if parts is None:
        raise ValueError(f"value: expected '<run>:<step>:<hash>', got {value!r}")
    action: ApprovalAction = found[1]  # type: ignore[assignment]
    return Click(action, int(parts["run"]), parts["step"], parts["hash"])


def parse_discord_click(custom_id: str) -> Click | None:
    """ "approval:approve:3:hotfix:ab12cd" -> Click; None when not an approval button."""
    found = re.fullmatch(DISCORD_APPROVAL_TEMPLATE, custom_id)
    if found is None:
        return None
    action: ApprovalAction = found["action"]  # type: ignore[assignment]
    return Click(action, int(found["run"]), found["step"] or None, found["hash"])


def reminder_text(shown: Shown, mentions: Sequence[str]) -> str:
    """A reply in the thread shortly before the expiry, mentioning who may approve."""
    when = shown.expires_at.strftime("%H:%M UTC") if shown.expires_at else "soon"
    who = " ".join(mentions) or shown.who_may
    return (
        f"Reminder: playbook {shown.playbook} step {shown.step_id} (run #{shown.run_id}) "
        f"still needs {shown.required - len(shown.approved_by)} more approval(s) before "
        f"{when}: {who}"
    )
