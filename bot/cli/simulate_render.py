"""The two forms of a Simulation: text for people, aligned in columns, and JSON for scripts."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.cli.simulate_playbooks import playbook_text
from bot.cli.simulate_report import (
    AlertReport,
    EscalationPlan,
    InhibitionHit,
    RouteView,
    SilenceHit,
    Simulation,
    TargetReach,
)
from routing.basics.duration import format_duration


def render_json(sim: Simulation) -> str:
    """Instants as ISO 8601 (UTC, or with their offset for local times); durations in the
    config's own notation ("5m")."""
    return json.dumps(_plain(sim), indent=2, ensure_ascii=False)


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


_KEY = 13  # the label column of the text output


def _row(indent: int, key: str, value: str) -> str:
    return f"{' ' * indent}{key:<{_KEY}}{value}".rstrip()


def _utc(instant: datetime) -> str:
    clock = "%H:%M:%S" if instant.second or instant.microsecond else "%H:%M"
    return instant.astimezone(UTC).strftime(f"%a %Y-%m-%d {clock} UTC")


def _local(instant: datetime) -> str:
    clock = "%H:%M:%S" if instant.second or instant.microsecond else "%H:%M"
    return instant.strftime(f"%a {clock} %Z")


def _after(delta: timedelta) -> str:
    return "T" if delta == timedelta(0) else f"T+{format_duration(delta)}"


def render_text(sim: Simulation) -> str:
    if sim.error:
        return sim.error
    lines = [
        _row(0, "source", sim.source),
        _row(0, "at (T)", f"{_utc(sim.at)}  (nothing is written)"),
        _row(0, "parsed", f"{sim.parsed} alert{'s' if sim.parsed != 1 else ''}"),
    ]
    if sim.note:
        lines.append(_row(0, "note", sim.note))
    if sim.unparsed:
        lines.append(_row(0, "unparsed", f"{sim.unparsed} lines (kept in the inbox)"))
    for number, alert in enumerate(sim.alerts, 1):
        lines += ["", *_alert_text(number, alert)]
    lines += playbook_text(sim.playbooks)
    return "\n".join(lines)


def _alert_text(number: int, a: AlertReport) -> list[str]:
    fields_text = ", ".join(f"{k}={v}" for k, v in sorted(a.fingerprint_fields.items()))
    head = f"== {number}. {a.title} "
    lines = [
        head + "=" * max(3, 78 - len(head)),
        _row(2, "status", f"{a.status}   severity {a.severity}   service {a.service}"),
        _row(2, "fingerprint", f"{a.fingerprint}  (from {fields_text})"),
        _row(2, "decision", a.decision),
        _row(2, "group key", a.group_key),
        _row(2, "grouping", a.grouping),
        _row(2, "incident", a.incident),
        _row(2, "labels", ", ".join(f"{k}={v}" for k, v in sorted(a.labels.items()))),
        "",
    ]
    if not a.routes:
        lines.append(_row(2, "route", "none matches"))
    for route in a.routes:
        lines += _route_text(route)
    if a.outcome is not None:
        lines.append(_row(2, "silence", _silence_text(a.silence)))
        if a.silence:
            s = a.silence
            lines.append(_sub("matchers", ", ".join(s.matchers)))
            lines.append(_sub("by", s.created_by + _until(s)))
            if s.comment:
                lines.append(_sub("comment", s.comment))
        lines.append(_row(2, "inhibition", _inhibition_text(a.inhibition)))
        if a.inhibition:
            i = a.inhibition
            rule = f"{', '.join(i.source_matchers)} -> {', '.join(i.target_matchers)}"
            if i.equal:
                rule += f" (equal: {', '.join(i.equal)})"
            lines.append(_sub("rule", rule))
    lines.append(_row(2, "paging", a.paging))
    for plan in a.escalations:
        lines += ["", *_plan_text(plan)]
    if a.channels:
        lines += ["", "  channel notices"]
        lines += [
            f"    {_after(c.after):<9}{_utc(c.due_at)}   {c.address}   (route {c.route_path})"
            for c in a.channels
        ]
    return lines


def _route_text(r: RouteView) -> list[str]:
    where = f"{r.path}  ({r.config_path})"
    if r.matchers:
        where += "  " + ", ".join(r.matchers)
    sends = []
    if r.escalation:
        sends.append(f"escalation {r.escalation}")
    if r.channels:
        sends.append("channels " + ", ".join(r.channels))
    if r.muted_by_time:
        time = f"MUTED now ({r.muted_by_time})"
    elif r.active_time_intervals or r.mute_time_intervals:
        time = "not muted now"
        if r.active_time_intervals:
            time += f" (inside active_time_intervals: {', '.join(r.active_time_intervals)})"
    else:
        time = "no time intervals"
    receiver = "; ".join(sends) or "nothing (no escalation, no channels)"
    group = f"wait {format_duration(r.group_wait)}, by {', '.join(r.group_by)}"
    return [
        _row(2, "route", where),
        _sub("receiver", receiver),
        _sub("group", group),
        _sub("time", time),
    ]


def _sub(key: str, value: str) -> str:
    """A detail row under a section row, aligned with the section's value column."""
    return f"{' ' * (2 + _KEY)}{key:<10}{value}".rstrip()


def _silence_text(s: SilenceHit | None) -> str:
    if s is None:
        return "none"
    recurring = f", recurring {s.recurrence}" if s.recurrence else ""
    return f"MUTED by silence {s.id} ({s.origin}{recurring})"


def _until(s: SilenceHit) -> str:
    return f", until {_utc(s.until)}" if s.until else ", no end"


def _inhibition_text(i: InhibitionHit | None) -> str:
    if i is None:
        return "none"
    shown = [k for k in ("alertname", "severity", "service", *i.equal) if k in i.source_alert]
    source = ", ".join(f"{k}={i.source_alert[k]}" for k in dict.fromkeys(shown))
    return f"MUTED by firing alert {source}"


def _plan_text(plan: EscalationPlan) -> list[str]:
    lines = [
        f"  escalation {plan.policy}  (route {plan.route_path})",
        "    if nobody acknowledges (an acknowledgement stops it at any step):",
    ]
    for step in plan.steps:
        lines.append(
            f"    {_after(step.after):<9}{_utc(step.due_at)}   "
            f"pass {step.pass_no}, step {step.step_no}"
        )
        for target in step.targets:
            lines += _target_text(target)
        if step.problem:
            lines.append(f"{'':13}! {step.problem}")
    lines.append(f"    then     {plan.end}")
    return lines


def _target_text(t: TargetReach) -> list[str]:
    head = f"{'':13}{t.target}"
    if t.time_zone and t.local_due is not None:
        who = ", ".join(t.on_call) or "nobody"
        head += f"   {_local(t.local_due)} ({t.time_zone})   on call: {who}"
    lines = [head]
    for reach in t.reaches:
        if reach.kind == "user":
            when = f"   ({_local(reach.local_time)} their time)" if reach.local_time else ""
            lines.append(f"{'':15}-> {reach.name:<10} {reach.address}{when}")
        else:
            lines.append(f"{'':15}-> {'channel':<10} {reach.address}   (team {reach.name})")
    if not t.reaches:
        # Either nobody is on call, or every address was reached by an earlier target.
        lines.append(f"{'':15}-> {'nobody' if t.time_zone and not t.on_call else 'no one new'}")
    return lines
