"""Escalation policies as a pure plan: which step is due when, and who each step reaches.

A policy runs its steps in order, waiting each step's `wait` before the next, for
1 + `repeat` passes. The shell stores the planned steps as rows with `due_at` and stops
them on acknowledgement; nothing here reads a clock or sends anything.

`team:NAME` notifies the team's channels (not each member): a team page goes where the
team works, and individuals are paged through schedules and `user:` targets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from routing.basics.field import Duration
from routing.oncall.people import Name, Team, User
from routing.oncall.schedule import Schedule, oncall_at

_T = TypeVar("_T")
TargetKind = Literal["schedule", "user", "team"]
_KINDS: tuple[TargetKind, ...] = ("schedule", "user", "team")


def split_target(target: str) -> tuple[TargetKind, str]:
    """ "schedule:backend-primary" -> ("schedule", "backend-primary")."""
    kind, sep, name = target.partition(":")
    if not sep or kind not in _KINDS or not name.strip():
        raise ValueError(
            f"invalid target {target!r} (expected 'schedule:NAME', 'user:NAME' or 'team:NAME')"
        )
    return kind, name.strip()


def _target(value: str) -> str:
    kind, name = split_target(value)
    return f"{kind}:{name}"


Target = Annotated[str, AfterValidator(_target)]


class EscalationStep(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    notify: list[Target] = Field(min_length=1)
    wait: Duration = timedelta(0)  # time to wait after this step before the next one


class EscalationPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    repeat: int = Field(default=0, ge=0)  # extra passes over all steps after the first
    steps: list[EscalationStep] = Field(min_length=1)

    @property
    def step_count(self) -> int:
        """Planned steps over all passes."""
        return len(self.steps) * (self.repeat + 1)

    def targets(self) -> set[str]:
        return {target for step in self.steps for target in step.notify}


@dataclass(frozen=True, slots=True)
class PlannedStep:
    index: int  # over all passes: pass_no * len(steps) + step_no
    pass_no: int  # 0 for the first pass
    step_no: int
    due_at: datetime
    targets: tuple[str, ...]


def step_at(policy: EscalationPolicy, started_at: datetime, index: int) -> PlannedStep | None:
    """Planned step `index` (0-based over all passes); None past the last step of the last pass."""
    if index < 0 or index >= policy.step_count:
        return None
    pass_no, step_no = divmod(index, len(policy.steps))
    pass_length = sum((step.wait for step in policy.steps), timedelta(0))
    offset = pass_no * pass_length + sum(
        (step.wait for step in policy.steps[:step_no]), timedelta(0)
    )
    return PlannedStep(
        index, pass_no, step_no, started_at + offset, tuple(policy.steps[step_no].notify)
    )


def plan(policy: EscalationPolicy, started_at: datetime) -> list[PlannedStep]:
    """Every step of every pass, in due order."""
    steps = (step_at(policy, started_at, index) for index in range(policy.step_count))
    return [step for step in steps if step is not None]


@dataclass(frozen=True, slots=True)
class Recipient:
    kind: Literal["user", "channel"]
    name: str  # the user's name, or the team's for a team channel
    address: str  # an apprise URL, or a channel target ("slack:#x", "discord:<id>", URL)
    via: str  # the target that reached it, e.g. "schedule:backend-primary"


def resolve_targets(
    targets: Sequence[str],
    at: datetime,
    users: Mapping[str, User],
    teams: Mapping[str, Team],
    schedules: Mapping[str, Schedule],
) -> list[Recipient]:
    """Who the targets reach at instant `at`: each user's contacts, each team's channels.

    An address reached twice (carol on call and also named as `user:carol`) is listed
    once, under the first target, so nobody is paged twice by one step.
    """
    out: list[Recipient] = []
    seen: set[str] = set()

    def add(recipient: Recipient) -> None:
        if recipient.address not in seen:
            seen.add(recipient.address)
            out.append(recipient)

    def add_user(name: str, via: str) -> None:
        for contact in _lookup(users, "user", name).contacts:
            add(Recipient("user", name, contact.address, via))

    for target in targets:
        kind, name = split_target(target)
        if kind == "user":
            add_user(name, target)
        elif kind == "schedule":
            for user in oncall_at(_lookup(schedules, "schedule", name), at):
                add_user(user, target)
        else:
            for channel in _lookup(teams, "team", name).channels:
                add(Recipient("channel", name, channel, target))
    return out


def _lookup(table: Mapping[str, _T], kind: str, name: str) -> _T:
    try:
        return table[name]
    except KeyError:
        raise KeyError(f"unknown {kind} {name!r}") from None
