"""Running `oncall`: who is on call now and next, for one schedule or all."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.commands_context import Reply, error_reply
from bot.commands_format import oncall_line
from bot.commands_model import Oncall
from bot.commands_specs import example
from routing.policy import PolicyConfig


def oncall(
    command: Oncall, config: PolicyConfig, now: datetime, zone: ZoneInfo, prefix: str
) -> Reply:
    if command.schedule is not None:
        try:
            chosen = [config.schedule(command.schedule)]
        except KeyError as exc:
            return error_reply(f"{exc.args[0]}: {example('oncall', prefix)}")
    else:
        chosen = list(config.schedules)
    if not chosen:
        return Reply("No schedules are configured (add `schedules:` to the firebell config).")
    return Reply("\n".join(oncall_line(s, now, zone) for s in chosen))
