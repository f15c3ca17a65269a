"""Who is on call now and next, per schedule: the report behind `GET /api/v1/oncall`,
`firebell oncall` and the web page. Pure: the instant is an argument."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from routing.oncall.schedule import Schedule, next_handoffs, oncall_at


def oncall_report(
    schedules: Sequence[Schedule], at: datetime, handoffs: int = 3
) -> list[dict[str, Any]]:
    """For each schedule: who is on call at `at` and the next `handoffs` changes, with
    times in UTC and in the schedule's own time zone (where hand-offs are defined)."""
    report = []
    for schedule in schedules:
        zone = schedule.time_zone
        report.append(
            {
                "schedule": schedule.name,
                "time_zone": str(zone),
                "at": at.isoformat(),
                "oncall": oncall_at(schedule, at),
                "next": [
                    {
                        "at": shift.at.isoformat(),
                        "at_local": shift.at.astimezone(zone).isoformat(),
                        "user": shift.user,
                    }
                    for shift in next_handoffs(schedule, at, handoffs)
                ],
            }
        )
    return report


NO_SCHEDULES = "No schedules are configured (add `schedules:` to the firebell config)."


def format_oncall(report: Sequence[dict[str, Any]]) -> str:
    """Plain text for the CLI: one block per schedule."""
    if not report:
        return NO_SCHEDULES
    blocks = []
    for item in report:
        who = ", ".join(item["oncall"]) or "nobody"
        lines = [f"{item['schedule']} ({item['time_zone']}): {who} on call at {item['at']}"]
        lines += [
            f"  from {shift['at_local']}: {shift['user'] or 'nobody'}" for shift in item["next"]
        ]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
