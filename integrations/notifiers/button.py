"""The incident buttons: which show for a status, their ids on the wire, and parsing them back."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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
