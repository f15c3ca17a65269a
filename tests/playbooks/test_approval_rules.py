"""approval_rules, pure: who may decide at an instant, and what decisions add up to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from playbooks.approval_rules import eligible, outcome, permitted, tally, who_may_approve
from playbooks.model import Approval
from routing.paging.policy import PolicyConfig

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # Monday; carol on call until 09:00, then dave
EXPIRES = T0 + timedelta(minutes=45)
PEOPLE = PolicyConfig.model_validate(
    {
        "users": [
            {"name": n, "contacts": [f"json://127.0.0.1:9/{n}"]}
            for n in ("alice", "bob", "carol", "dave", "erin")
        ],
        "teams": [{"name": "backend", "members": ["alice", "bob", "carol"]}],
        "schedules": [
            {"name": "primary", "time_zone": "UTC",
             "layers": [{"rotation": "daily", "members": ["carol", "dave"], "handoff": "09:00",
                         "start": "2026-03-01"}]}
        ],
    }
)  # fmt: skip
RULE = Approval(approvers=["team:backend", "oncall:primary", "user:erin"], required=2)


def d(who: str, decision: str = "approved", minutes: int = 1, h: str = "h1") -> dict[str, Any]:
    return {"approver": who, "decision": decision, "at": T0 + timedelta(minutes=minutes),
            "request_hash": h}  # fmt: skip


def test_who_may_decide_leaves_out_the_requester_and_follows_the_rota() -> None:
    assert eligible(RULE, "bob", PEOPLE, T0) == ["alice", "carol", "erin"]
    after_handoff = T0 + timedelta(hours=1, minutes=1)
    assert eligible(RULE, "bob", PEOPLE, after_handoff) == ["alice", "carol", "dave", "erin"]
    assert who_may_approve(RULE, "bob", PEOPLE, T0) == (
        "team:backend (alice, carol), oncall:primary (now: carol), user:erin; "
        "not bob, who started the run"
    )
    assert permitted("bob", RULE, "bob", T0, PEOPLE)[0] is False
    ok, reason = permitted(None, RULE, "bob", T0, PEOPLE)
    assert not ok and "linked to none" in reason and "who may: team:backend" in reason
    assert permitted("erin", RULE, "bob", T0, PEOPLE) == (True, "erin may approve")


def test_oncall_counts_whoever_is_on_call_at_the_instant() -> None:
    rule = Approval(approvers=["oncall:primary"])
    after_handoff = T0 + timedelta(hours=1, minutes=1)
    assert eligible(rule, "", PEOPLE, T0) == ["carol"]
    assert eligible(rule, "", PEOPLE, after_handoff) == ["dave"]
    assert permitted("carol", rule, "", T0, PEOPLE)[0]
    assert not permitted("carol", rule, "", after_handoff, PEOPLE)[0]
    assert permitted("dave", rule, "", after_handoff, PEOPLE)[0]


def test_outcome_needs_n_distinct_people_on_the_current_hash() -> None:
    now = T0 + timedelta(minutes=10)
    assert outcome(RULE, [], "bob", "h1", now, EXPIRES) == "pending"
    assert (
        outcome(RULE, [d("alice"), d("alice", minutes=2)], "bob", "h1", now, EXPIRES) == "pending"
    )
    assert outcome(RULE, [d("alice"), d("carol")], "bob", "h1", now, EXPIRES) == "approved"
    # Bound to the hash: approvals of a voided request count for nothing.
    assert outcome(RULE, [d("alice", h="h0"), d("carol")], "bob", "h1", now, EXPIRES) == "pending"
    # The requester's own decision never counts, whatever a row says.
    assert outcome(RULE, [d("bob"), d("carol")], "bob", "h1", now, EXPIRES) == "pending"
    assert tally(RULE, [d("alice"), d("bob")], "bob", "h1", EXPIRES) == (["alice"], 2)


def test_first_of_a_reject_and_the_nth_approval_decides_and_expiry_is_not_a_reject() -> None:
    now = T0 + timedelta(minutes=10)
    rejected_first = [d("erin", "rejected", 1), d("alice", minutes=2), d("carol", minutes=3)]
    assert outcome(RULE, rejected_first, "bob", "h1", now, EXPIRES) == "rejected"
    approved_first = [d("alice", minutes=1), d("carol", minutes=2), d("erin", "rejected", 3)]
    assert outcome(RULE, approved_first, "bob", "h1", now, EXPIRES) == "approved"
    assert outcome(RULE, [d("alice")], "bob", "h1", EXPIRES, EXPIRES) == "expired"
    late = [d("alice"), d("carol", minutes=46)]  # after the expiry: does not count
    assert outcome(RULE, late, "bob", "h1", EXPIRES + timedelta(minutes=2), EXPIRES) == "expired"
    assert outcome(RULE, [d("alice"), d("carol")], "bob", "h1", EXPIRES, EXPIRES) == "approved"
