"""The incident buttons: which show for a status, their ids on the wire, and parsing them back.

Also the playbook chooser the "Run playbook" button answers with: per matching playbook a
Run and a Dry-run button whose ids carry the playbook and (Discord) the incident.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal


class IncidentAction(StrEnum):
    ACK = "ack"
    RESOLVE = "resolve"
    SILENCE_1H = "silence1h"
    RUN_PLAYBOOK = "run"


@dataclass(frozen=True, slots=True)
class Button:
    action: IncidentAction
    label: str
    slack_action_id: str
    slack_style: str | None  # Slack knows only "primary" and "danger"
    discord_style: int  # 1 primary, 2 secondary, 3 success, 4 danger


BUTTONS: tuple[Button, ...] = (
    Button(IncidentAction.ACK, "Acknowledge", "incident_ack", "primary", 1),
    Button(IncidentAction.RESOLVE, "Resolve", "incident_resolve", None, 3),
    Button(IncidentAction.SILENCE_1H, "Silence 1h", "incident_silence_1h", None, 2),
    Button(IncidentAction.RUN_PLAYBOOK, "Run playbook", "incident_run_playbook", None, 2),
)

_BY_SLACK_ID = {b.slack_action_id: b.action for b in BUTTONS}


def buttons_for(status: str) -> tuple[Button, ...]:
    """No Ack once acknowledged; nothing left to press once resolved."""
    if status == "resolved":
        return ()
    if status == "acknowledged":
        return tuple(b for b in BUTTONS if b.action is not IncidentAction.ACK)
    return BUTTONS


def slack_block_id(incident_id: int) -> str:
    return f"incident:{incident_id}"


def discord_custom_id(action: IncidentAction, incident_id: int) -> str:
    # The id lives in custom_id so the buttons keep working after a bot restart.
    return f"incident:{action.value}:{incident_id}"


def parse_slack_action(action_id: str, value: str) -> tuple[IncidentAction, int]:
    """A Slack block_actions entry back to (action, incident id); ValueError naming the field."""
    action = _BY_SLACK_ID.get(action_id)
    if action is None:
        raise ValueError(f"action_id: not an incident button: {action_id!r}")
    return action, _incident_id("value", value)


def parse_discord_custom_id(custom_id: str) -> tuple[IncidentAction, int]:
    """ "incident:ack:42" -> (ACK, 42); ValueError naming the field."""
    parts = custom_id.split(":")
    if len(parts) != 3 or parts[0] != "incident":
        raise ValueError(f"custom_id: expected 'incident:<action>:<id>', got {custom_id!r}")
    try:
        action = IncidentAction(parts[1])
    except ValueError:
        raise ValueError(f"custom_id: unknown incident action {parts[1]!r}") from None
    return action, _incident_id("custom_id", parts[2])


def _incident_id(field: str, text: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise ValueError(f"{field}: expected an incident id, got {text!r}")
    return int(text)


PlaybookMode = Literal["run", "dry"]
# Playbook ids follow playbooks.model.IDENT; ids on the wire are checked against it again.
_PLAYBOOK = r"[a-z0-9][a-z0-9_-]{0,63}"
# Both the action_ids Bolt routes to the playbook handler and how they parse back.
SLACK_PLAYBOOK_ACTIONS = re.compile(rf"^incident_(run|dry_run)_playbook:({_PLAYBOOK})$")
DISCORD_PLAYBOOK_TEMPLATE = rf"playbook:(?P<mode>run|dry):(?P<name>{_PLAYBOOK}):(?P<id>\d{{1,18}})"
MAX_SLACK_CHOICES = 20  # 2 blocks each, under Slack's 50 blocks
MAX_DISCORD_CHOICES = 5  # one action row each; Discord allows 5 rows
_MODES: tuple[tuple[PlaybookMode, str], ...] = (("run", "Run"), ("dry", "Dry-run"))


def slack_playbook_action_id(mode: PlaybookMode, playbook: str) -> str:
    return f"incident_{'run' if mode == 'run' else 'dry_run'}_playbook:{playbook}"


def parse_slack_playbook_action(action_id: str, value: str) -> tuple[PlaybookMode, str, int]:
    """ "incident_run_playbook:api-5xx" + value "3" -> ("run", "api-5xx", 3)."""
    found = SLACK_PLAYBOOK_ACTIONS.match(action_id)
    if found is None:
        raise ValueError(f"action_id: not a playbook button: {action_id!r}")
    mode: PlaybookMode = "run" if found[1] == "run" else "dry"
    return mode, found[2], _incident_id("value", value)


def discord_playbook_custom_id(mode: PlaybookMode, playbook: str, incident_id: int) -> str:
    return f"playbook:{mode}:{playbook}:{incident_id}"  # at most 96 of Discord's 100 chars


def parse_discord_playbook_custom_id(custom_id: str) -> tuple[PlaybookMode, str, int] | None:
    """ "playbook:run:api-5xx:3" -> ("run", "api-5xx", 3); None when not a playbook button."""
    found = re.fullmatch(DISCORD_PLAYBOOK_TEMPLATE, custom_id)
    if found is None:
        return None
    mode: PlaybookMode = "run" if found["mode"] == "run" else "dry"
    return mode, found["name"], _incident_id("custom_id", found["id"])


def slack_playbook_blocks(
    incident_id: int, text: str, playbooks: tuple[str, ...]
) -> list[dict[str, Any]]:
    """The chooser: the (already escaped) text, then per playbook its Run and Dry-run buttons."""
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}
    ]
    for name in playbooks[:MAX_SLACK_CHOICES]:
        elements = [
            {
                "type": "button",
                "action_id": slack_playbook_action_id(mode, name),
                "text": {"type": "plain_text", "text": f"{label} {name}"[:75], "emoji": False},
                "value": str(incident_id),
                **({"style": "primary"} if mode == "run" else {}),
            }
            for mode, label in _MODES
        ]
        blocks.append({"type": "actions", "block_id": f"playbook:{name}", "elements": elements})
    return blocks


def discord_playbook_components(incident_id: int, playbooks: tuple[str, ...]) -> list[Any]:
    """One action row per playbook: Run (primary) and Dry-run (secondary)."""
    return [
        {
            "type": 1,
            "components": [
                {
                    "type": 2,
                    "style": 1 if mode == "run" else 2,
                    "label": f"{label} {name}"[:80],
                    "custom_id": discord_playbook_custom_id(mode, name, incident_id),
                }
                for mode, label in _MODES
            ],
        }
        for name in playbooks[:MAX_DISCORD_CHOICES]
    ]
