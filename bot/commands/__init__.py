"""The transport-neutral incident command layer shared by Slack, Discord, the CLI and REST.

`parse_command` turns the words after `/incident` into a Command (pure, no I/O);
`execute` runs it for an Actor and answers with a Reply the surface renders. Every
surface speaks the same words, so `/incident ack 42` acts alike everywhere.

This package's face re-exports what the surfaces need; each job lives in its own module:
  model        the Command values and CommandError
  specs        usage, examples, aliases and help text
  parse        text / Discord options / buttons -> Command (pure)
  context      Actor, CommandContext and Reply
  permissions  the role each command needs, and the role of whoever runs it
  execute      execute: permission check, then dispatch to a family below
  incidents    list, show, ack, resolve, note
  silences     silence, silences, unsilence
  oncall       oncall
  paging       page (by hand)
  playbooks    run
  escalation   queueing pages made by hand
  formatting   reply text
"""

from __future__ import annotations

from bot.commands.context import (
    Actor,
    AlertSubmitter,
    ChangeHook,
    CommandContext,
    Reply,
    Surface,
    Visibility,
    discord_actor,
    slack_actor,
)
from bot.commands.escalation import queue_manual_pages
from bot.commands.execute import execute
from bot.commands.formatting import incident_line, oncall_line, show_text, silences_text
from bot.commands.model import (
    Ack,
    Command,
    CommandError,
    Help,
    ListIncidents,
    ListSilences,
    Note,
    Oncall,
    Page,
    Resolve,
    RunPlaybook,
    ShowIncident,
    SilenceAlerts,
    Unsilence,
)
from bot.commands.paging import manual_alert
from bot.commands.parse import (
    SILENCE_BUTTON_DURATION,
    button_command,
    command_from_options,
    parse_command,
    tokenize,
)
from bot.commands.permissions import READ_ONLY, may_run, needed_role, role_of
from bot.commands.silences import incident_matchers
from bot.commands.specs import (
    ALIASES,
    DEFAULT_PREFIX,
    LIST_SCOPES,
    SPECS,
    example,
    help_text,
    usage,
)
from routing.paging.escalation_store import stop_escalations

__all__ = [
    "ALIASES",
    "DEFAULT_PREFIX",
    "LIST_SCOPES",
    "READ_ONLY",
    "SILENCE_BUTTON_DURATION",
    "SPECS",
    "Ack",
    "Actor",
    "AlertSubmitter",
    "ChangeHook",
    "Command",
    "CommandContext",
    "CommandError",
    "Help",
    "ListIncidents",
    "ListSilences",
    "Note",
    "Oncall",
    "Page",
    "Reply",
    "Resolve",
    "RunPlaybook",
    "ShowIncident",
    "SilenceAlerts",
    "Surface",
    "Unsilence",
    "Visibility",
    "button_command",
    "command_from_options",
    "discord_actor",
    "example",
    "execute",
    "help_text",
    "incident_line",
    "incident_matchers",
    "manual_alert",
    "may_run",
    "needed_role",
    "oncall_line",
    "parse_command",
    "queue_manual_pages",
    "role_of",
    "show_text",
    "silences_text",
    "slack_actor",
    "stop_escalations",
    "tokenize",
    "usage",
]
