"""Running `oncall`: who is on call now and next, for one schedule or all."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.commands.context import Reply, error_reply
from bot.commands.formatting import oncall_line
from bot.commands.model import Oncall
from bot.commands.specs import example
from routing.oncall.report import NO_SCHEDULES, oncall_report
from routing.paging.policy import PolicyConfig


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
    data = {"items": oncall_report(chosen, now)}
    if not chosen:
        return Reply(NO_SCHEDULES, data=data)
    return Reply("\n".join(oncall_line(s, now, zone) for s in chosen), data=data)
