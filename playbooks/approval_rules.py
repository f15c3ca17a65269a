"""Who may approve a step and what its recorded decisions add up to: pure functions, the
clock passed in, so the runner, the service and dry-run decide alike.

Approvers are `user:NAME`, `team:NAME` (its members) or `oncall:SCHEDULE` (whoever is on
call at the instant of deciding, as `oncall` computes it). The person who started the
run never decides it. `required` distinct people must approve the step's current request
(decisions bound to an older request_hash count for nothing); one permitted reject
rejects; past the expiry nothing counts that was not decided before it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, Protocol

from routing.oncall.schedule import oncall_at
from routing.paging.policy import PolicyConfig

Outcome = Literal["approved", "rejected", "pending", "expired"]
Decision = Literal["approved", "rejected"]


class ApprovalRule(Protocol):
    """The step's `approval:` (playbooks.model); only what the rules read."""

    @property
    def approvers(self) -> Sequence[str]: ...

    @property
    def required(self) -> int: ...


def _target(approver: str) -> tuple[str, str]:
    kind, _, name = approver.partition(":")
    return kind, name


def resolve(approver: str, people: PolicyConfig, now: datetime) -> list[str]:
    """The firebell users one approver entry stands for at `now` (unknown names: none;
    the loader refuses them, a config reload may still remove one)."""
    kind, name = _target(approver)
    if kind == "user":
        return [name] if name in people.users_by_name else []
    if kind == "team":
        team = people.teams_by_name.get(name)
        return list(team.members) if team is not None else []
    if kind == "oncall":
        schedule = people.schedules_by_name.get(name)
        return oncall_at(schedule, now) if schedule is not None else []
    return []


def eligible(rule: ApprovalRule, requester: str, people: PolicyConfig, now: datetime) -> list[str]:
    """Everyone who may decide at `now`, in the order the rule names them, the
    requester left out: who is asked (the approval message, a dry-run, a reminder)."""
    found: dict[str, None] = {}
    for approver in rule.approvers:
        for user in resolve(approver, people, now):
            if user != requester:
                found.setdefault(user, None)
    return list(found)


def who_may_approve(rule: ApprovalRule, requester: str, people: PolicyConfig, now: datetime) -> str:
    """ "team:backend (alice, bob), oncall:primary (now: dave); not carol, who started
    the run" — what a refusal and the request show."""
    parts = []
    for approver in rule.approvers:
        users = [u for u in resolve(approver, people, now) if u != requester]
        kind, _ = _target(approver)
        if kind == "user":
            parts.append(approver)
        elif kind == "oncall":
            parts.append(f"{approver} (now: {', '.join(users) or 'nobody'})")
        else:
            parts.append(f"{approver} ({', '.join(users) or 'nobody else'})")
    text = ", ".join(parts) or "nobody"
    if requester:
        text += f"; not {requester}, who started the run"
    return text


def permitted(
    actor: str | None, rule: ApprovalRule, requester: str, now: datetime, people: PolicyConfig
) -> tuple[bool, str]:
    """Whether `actor` (a firebell user; None: a chat account linked to nobody) may
    approve or reject now; the reason names who may."""
    who = who_may_approve(rule, requester, people, now)
    if actor is None:
        return False, (
            "only a firebell user can approve, and this chat account or token is linked to "
            f"none (slack_id/discord_id or a token under users:); who may: {who}"
        )
    if actor == requester:
        return False, f"{actor} started this run and cannot decide its approval; who may: {who}"
    if actor not in eligible(rule, requester, people, now):
        return False, f"{actor} may not approve this step; who may: {who}"
    return True, f"{actor} may approve"


def _field(decision: Any, name: str) -> Any:
    return decision[name] if isinstance(decision, Mapping) else getattr(decision, name)


def current(
    decisions: Sequence[Any], requester: str, request_hash: str, expires_at: datetime
) -> list[Any]:
    """The decisions that count, oldest first: on this request, before the expiry, never
    the requester's (rows have `approver`, `decision`, `request_hash`, `at`)."""
    kept = [
        d
        for d in decisions
        if _field(d, "request_hash") == request_hash
        and _field(d, "approver") != requester
        and _field(d, "at") < expires_at
    ]
    return sorted(kept, key=lambda d: (_field(d, "at"), _field(d, "approver")))


def outcome(
    rule: ApprovalRule,
    decisions: Sequence[Any],
    requester: str,
    request_hash: str,
    now: datetime,
    expires_at: datetime,
) -> Outcome:
    """What the step's approval stands at: whichever came first of a reject and the
    `required`-th distinct approval decides; else expired once `now` reaches the expiry
    (never approved, never rejected by a timeout), else pending."""
    approvers: set[str] = set()
    for decision in current(decisions, requester, request_hash, expires_at):
        if _field(decision, "decision") == "rejected":
            return "rejected"
        approvers.add(_field(decision, "approver"))
        if len(approvers) >= rule.required:
            return "approved"
    return "expired" if now >= expires_at else "pending"


def tally(
    rule: ApprovalRule,
    decisions: Sequence[Any],
    requester: str,
    request_hash: str,
    expires_at: datetime,
) -> tuple[list[str], int]:
    """Who approved the current request so far, and how many are required ("1 of 2")."""
    kept = current(decisions, requester, request_hash, expires_at)
    names = [_field(d, "approver") for d in kept if _field(d, "decision") == "approved"]
    return list(dict.fromkeys(names)), rule.required
