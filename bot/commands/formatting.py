"""Reply text: incident lines and details, on-call lines, silence lists, in the reader's zone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.commands.context import Actor
from bot.commands.specs import example
from routing.basics.duration import format_duration
from routing.muting import silence_store as silences
from routing.muting.silence import SilenceState, SilenceStatus
from routing.oncall.schedule import Schedule, next_handoffs, oncall_at
from routing.paging.policy import PolicyConfig

TIMELINE_SHOWN = 10


def zone_of(actor: Actor, config: PolicyConfig) -> ZoneInfo:
    """Times are shown in the reader's zone when we know who they are."""
    user = config.users_by_name.get(actor.user) if actor.user else None
    return user.time_zone if user else ZoneInfo("UTC")


def format_when(value: str | datetime | None, zone: ZoneInfo) -> str:
    if value is None:
        return "-"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(zone)
    return local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or zone.key)


def format_ago(value: str | None, now: datetime) -> str:
    if not value:
        return ""
    delta = now - datetime.fromisoformat(value)
    if delta < timedelta(minutes=1):
        return "just now"
    return f"{format_duration(timedelta(minutes=int(delta.total_seconds() // 60)))} ago"


def status_text(item: Mapping[str, Any]) -> str:
    if item["status"] == "acknowledged" and item.get("acknowledged_by"):
        return f"acknowledged by {item['acknowledged_by']}"
    if item["status"] == "resolved" and item.get("resolved_by"):
        return f"resolved by {item['resolved_by']}"
    return str(item["status"])


def incident_line(item: Mapping[str, Any], now: datetime) -> str:
    alerts = f"{item['alert_count']} alert{'s' if item['alert_count'] != 1 else ''}"
    return (
        f"#{item['id']} [{item['severity']}] {item['status']} · {item['service']} · "
        f"{item['title']} ({alerts}, opened {format_ago(item['created_at'], now)})"
    )


def show_text(item: Mapping[str, Any], zone: ZoneInfo) -> str:
    lines = [
        f"Incident #{item['id']}: {item['title']}",
        f"Status: {status_text(item)}",
        f"Severity: {item['severity']} · Service: {item['service']} · "
        f"Alerts: {item['alert_count']} ({item['open_alert_count']} open)",
        f"Opened: {format_when(item['created_at'], zone)}",
    ]
    alerts = item.get("alerts") or []
    if alerts:
        lines.append("Alerts:")
        for alert in alerts[:10]:
            instance = alert["labels"].get("instance")
            where = f" on {instance}" if instance else ""
            lines.append(
                f"- [{alert['status']}] {alert['title']}{where} "
                f"({alert['source']}, {times_text(alert['occurrences'])})"
            )
        if len(alerts) > 10:
            lines.append(f"- … and {len(alerts) - 10} more")
    timeline = item.get("timeline") or []
    if timeline:
        latest = f" (latest {TIMELINE_SHOWN})" if len(timeline) > TIMELINE_SHOWN else ""
        lines.append(f"Timeline{latest}:")
        for entry in timeline[-TIMELINE_SHOWN:]:
            lines.append(f"- {format_when(entry['at'], zone)} {entry['actor']}: {entry['message']}")
    return "\n".join(lines)


def oncall_line(schedule: Schedule, now: datetime, zone: ZoneInfo) -> str:
    current = oncall_at(schedule, now)
    who = ", ".join(current) or "nobody"
    upcoming = next_handoffs(schedule, now, 1)
    if not upcoming:
        return f"{schedule.name}: {who}"
    shift = upcoming[0]
    return (
        f"{schedule.name}: {who} until {format_when(shift.at, zone)}, then {shift.user or 'nobody'}"
    )


def silences_text(views: Sequence[silences.SilenceView], zone: ZoneInfo, prefix: str) -> str:
    if not views:
        return f"No active silences. Add one: {example('silence', prefix)}"
    lines = ["Silences:"]
    for view in views:
        s = view.silence
        window = silence_when(view.status, zone)
        if s.recurrence is not None:
            window = f"{s.recurrence.describe()}, {window}"
        comment = f" · {s.comment}" if s.comment else ""
        origin = " (config)" if view.origin == "config" else ""
        lines.append(
            f"{view.id}{origin} [{view.state.value}] {','.join(str(m) for m in s.matchers)} "
            f"{window} · by {s.created_by}{comment}"
        )
    return "\n".join(lines)


def silence_when(status: SilenceStatus, zone: ZoneInfo) -> str:
    """A silence's true state in words: until when it mutes, or when it mutes next."""
    if status.state is SilenceState.ACTIVE:
        end = status.window_ends_at
        return f"until {format_when(end, zone)}" if end is not None else "until ended"
    if status.state is SilenceState.PENDING:
        return f"next window {format_when(status.next_window_at, zone)}"
    return "ended"


def times_text(count: int) -> str:
    return f"{count} time{'s' if count != 1 else ''}"
