"""The command layer's view of a running process, per surface (Slack, Discord, CLI)."""

from __future__ import annotations

from bot.commands import CommandContext, Surface
from bot.runtime.state import Runtime
from bot.workers.paging_delivery import LinkSettings
from routing.intake.alert import Alert
from routing.intake.submission import Submission


def link_settings(rt: Runtime) -> LinkSettings:
    s = rt.settings
    command = s.slack.command if s.slack else "/incident"
    return LinkSettings(
        public_url=s.public_url, chat_command=command if s.slack or s.discord else None
    )


def command_context(rt: Runtime, surface: Surface) -> CommandContext:
    """The command layer's view of the running process, for one surface."""
    s = rt.settings
    allow = False
    prefix = "/incident"
    if surface == "slack" and s.slack is not None:
        allow, prefix = s.slack.allow_unknown_users, s.slack.command
    elif surface == "discord" and s.discord is not None:
        allow = s.discord.allow_unknown_users
    elif surface == "cli":
        prefix = "firebell incident"

    async def submit_alert(alert: Alert, body: bytes) -> int | None:
        outcome = await rt.intake.submit(
            Submission(
                source=alert.source, alerts=[alert], body=body, content_type="application/json"
            )
        )
        return outcome.alerts[0].incident_id if outcome.alerts else None

    return CommandContext(
        engine=rt.engine,
        config=s,
        clock=rt.clock,
        submit_alert=submit_alert,
        allow_unknown_users=allow,
        changed=rt.extras.setdefault("incident_changed", []),
        playbook_service=rt.extras.get("playbook_service"),
        prefix=prefix,
    )
