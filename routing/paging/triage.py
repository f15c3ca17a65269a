"""Paging decisions as pure functions: what an alert pages (or what mutes it), and what a
due escalation step does at `now`. The shells in escalation_store.py and outbox.py load
the state, call these, and write the result."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from routing.intake.alert import routing_labels as routing_labels
from routing.muting.inhibition import inhibited_by
from routing.muting.silence import Silence, silencing
from routing.muting.tree import DEFAULT_GROUP_INTERVAL, DEFAULT_REPEAT_INTERVAL
from routing.paging.escalation import EscalationPolicy, Recipient
from routing.paging.policy import PolicyConfig


class TriageOutcome(StrEnum):
    ROUTED = "routed"  # an escalation and/or channel notifications start
    SILENCED = "silenced"
    INHIBITED = "inhibited"
    TIME_MUTED = "time_muted"  # every matching route is outside its time intervals
    UNROUTED = "unrouted"  # the matching routes name no escalation and no channels
    FLAPPING = "flapping"  # a reopen of an alert already flagged flapping: recorded only


@dataclass(frozen=True, slots=True)
class EscalationStart:
    policy: str
    route_path: str
    due_at: datetime  # now + the route's group_wait


@dataclass(frozen=True, slots=True)
class ChannelNotice:
    address: str
    route_path: str
    due_at: datetime
    # The route's Alertmanager timers for later posts (routing/paging/follow_up.py).
    group_interval: timedelta = DEFAULT_GROUP_INTERVAL
    repeat_interval: timedelta = DEFAULT_REPEAT_INTERVAL


@dataclass(frozen=True, slots=True)
class Triage:
    outcome: TriageOutcome
    detail: str  # one line for the timeline and `simulate`
    silence_id: str | None = None
    route_path: str | None = None
    escalations: tuple[EscalationStart, ...] = ()
    channels: tuple[ChannelNotice, ...] = ()


def silence_label(silence: Silence, index: int) -> str:
    """A config silence has no id unless given one: name it by its place in the file."""
    return silence.id or f"config:{index}"


def triage(
    config: PolicyConfig,
    labels: Mapping[str, str],
    now: datetime,
    silences: Sequence[Silence],
    firing_labels: Iterable[Mapping[str, str]],
) -> Triage:
    """Decide what one alert pages at `now`: silences first, then inhibition, then routes.

    `silences` must carry ids (see silence_label); `firing_labels` are the routing labels
    of the currently firing alerts (the alert itself may be among them).
    """
    silence = silencing(silences, labels, now)
    if silence is not None:
        sid = silence.id or "?"
        why = f": {silence.comment}" if silence.comment else ""
        return Triage(TriageOutcome.SILENCED, f"silenced by {sid}{why}", silence_id=sid)
    if config.inhibit_rules:
        hit = inhibited_by(config.inhibit_rules, labels, firing_labels)
        if hit is not None:
            rule, source = hit
            source_text = ", ".join(f"{k}={source.get(k, '')}" for k in _shown(rule.equal, source))
            matchers = ", ".join(str(m) for m in rule.source_matchers)
            return Triage(
                TriageOutcome.INHIBITED,
                f"inhibited by firing alert {source_text} (rule source {matchers})",
            )
    matches = config.route_alert(labels, now)
    active = [m for m in matches if not m.muted_by_time]
    if matches and not active:
        reasons = "; ".join(f"route {m.path}: {m.time_reason}" for m in matches)
        return Triage(
            TriageOutcome.TIME_MUTED, f"muted by time: {reasons}", route_path=matches[0].path
        )
    escalations: dict[str, EscalationStart] = {}
    channels: dict[str, ChannelNotice] = {}
    for match in active:
        due = now + match.group_wait
        receiver = match.receiver
        if receiver.escalation and receiver.escalation not in escalations:
            escalations[receiver.escalation] = EscalationStart(receiver.escalation, match.path, due)
        for address in receiver.channels:
            channels.setdefault(
                address,
                ChannelNotice(
                    address, match.path, due, match.group_interval, match.repeat_interval
                ),
            )
    paths = ", ".join(m.path for m in active)
    if not escalations and not channels:
        return Triage(
            TriageOutcome.UNROUTED,
            f"nobody is paged: route {paths} names no escalation policy or channels",
            route_path=active[0].path if active else None,
        )
    parts = [f"escalation {name}" for name in escalations]
    if channels:
        parts.append(f"{len(channels)} channel{'s' if len(channels) != 1 else ''}")
    return Triage(
        TriageOutcome.ROUTED,
        f"paging with {' and '.join(parts)} (route {paths})",
        route_path=active[0].path,
        escalations=tuple(escalations.values()),
        channels=tuple(channels.values()),
    )


def hold_flapping(result: Triage, reopened_flapping: bool) -> Triage:
    """A reopen of an alert already flagged flapping (dedup decides the flag at the
    reopen's instant, routing.intake.dedup.still_flapping) pages nobody: what would have
    paged is recorded instead. The reopen that flags it pages, saying it is flapping."""
    if not reopened_flapping or result.outcome is not TriageOutcome.ROUTED:
        return result
    return Triage(
        TriageOutcome.FLAPPING,
        f"not paged again: the alert is flapping (would be {result.detail})",
        route_path=result.route_path,
    )


def _shown(equal: Sequence[str], source: Mapping[str, str]) -> list[str]:
    """The source labels worth naming: the `equal` ones, else its alertname."""
    return list(equal) or [k for k in ("alertname", "service") if k in source]


# ------------------------------------------------------------------ escalation steps


class StepKind(StrEnum):
    PAGE = "page"  # run the step: page its targets, then wait or finish
    STOP = "stop"  # the incident no longer needs paging (acknowledged or resolved)
    DONE = "done"  # nothing left to run (e.g. the policy lost steps in a config reload)
    PAUSE = "pause"  # every open alert is muted now: run this step once nothing mutes it


@dataclass(frozen=True, slots=True)
class StepDecision:
    kind: StepKind
    reason: str = ""
    pass_no: int = 0
    step_no: int = 0
    targets: tuple[str, ...] = ()
    label: str = ""  # "step 1 of 2 (pass 1 of 3)"


@dataclass(frozen=True, slots=True)
class NextStep:
    pass_no: int
    step_no: int
    due_at: datetime


def step_label(policy: EscalationPolicy, pass_no: int, step_no: int) -> str:
    return f"step {step_no + 1} of {len(policy.steps)} (pass {pass_no + 1} of {policy.repeat + 1})"


def decide_step(
    policy: EscalationPolicy | None,
    policy_name: str,
    pass_no: int,
    step_no: int,
    incident_status: str,
    mute: Triage | None = None,
) -> StepDecision:
    """What a due escalation does now; `mute` is what mutes every open alert of the
    incident at this instant (a silence, an inhibition, a time interval), if anything.

    `repeat: N` means the policy runs 1 + N passes over its steps (EscalationPolicy's
    reading), so `repeat: 2` pages through every step three times at most. A muted
    step waits, as Alertmanager holds back notifications for silenced alerts; it runs
    when the mute ends if nobody acknowledged by then (PagerDuty's snooze).
    """
    if incident_status == "acknowledged":
        return StepDecision(StepKind.STOP, "incident acknowledged")
    if incident_status == "resolved":
        return StepDecision(StepKind.STOP, "incident resolved")
    if policy is None:
        return StepDecision(
            StepKind.STOP, f"escalation policy {policy_name} is no longer configured"
        )
    if step_no >= len(policy.steps) or pass_no > policy.repeat:
        return StepDecision(StepKind.DONE, "no steps left (the policy changed)")
    if mute is not None:
        label = step_label(policy, pass_no, step_no)
        return StepDecision(StepKind.PAUSE, mute.detail, pass_no, step_no, label=label)
    return StepDecision(
        StepKind.PAGE,
        pass_no=pass_no,
        step_no=step_no,
        targets=tuple(policy.steps[step_no].notify),
        label=step_label(policy, pass_no, step_no),
    )


def next_step(
    policy: EscalationPolicy, pass_no: int, step_no: int, now: datetime, reached: bool
) -> NextStep | None:
    """Where the escalation goes after running (pass_no, step_no) at `now`; None when done.

    The step's `wait` counts from when it actually ran, so a late worker never shortens
    someone's time to respond. A step that reached nobody (an empty schedule slot) does
    not wait: the next step is due at once, because a wait would page no one.
    """
    if step_no + 1 < len(policy.steps):
        following = (pass_no, step_no + 1)
    elif pass_no < policy.repeat:
        following = (pass_no + 1, 0)
    else:
        return None
    wait = policy.steps[step_no].wait if reached else timedelta(0)
    return NextStep(following[0], following[1], now + wait)


def describe_reach(recipients: Sequence[Recipient]) -> str:
    """ "paged alice via schedule:backend-primary; notified team ops via team:ops"."""
    paged: dict[tuple[str, str], None] = {}
    notified: dict[tuple[str, str], None] = {}
    for r in recipients:
        (paged if r.kind == "user" else notified)[(r.name, r.via)] = None
    parts = []
    if paged:
        parts.append("paged " + ", ".join(f"{name} via {via}" for name, via in paged))
    if notified:
        parts.append("notified " + ", ".join(f"team {name} via {via}" for name, via in notified))
    return "; ".join(parts) or "nobody to page"


def notification_step_text(label: str) -> str:
    """The Notification.step form: "step 1 of 2, pass 1 of 3"."""
    return label.replace(" (", ", ").rstrip(")")


def address_digest(address: str) -> str:
    """What outbox and feed keys carry of an address: addresses can be long and hold
    tokens, so a key holds a digest, never the address."""
    return hashlib.sha256(address.encode()).hexdigest()[:32]


def page_key(escalation_id: int, pass_no: int, step_no: int, address: str) -> str:
    """One page per address per step: re-running a step can never page twice."""
    return f"page:{escalation_id}:{pass_no}:{step_no}:{address_digest(address)}"


def channel_key(incident_id: int, round_no: int, address: str) -> str:
    """One channel post per opening of an incident, however many routes name the channel."""
    return f"channel:{incident_id}:{round_no}:{address_digest(address)}"
