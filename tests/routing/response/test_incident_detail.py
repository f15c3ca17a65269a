"""The incident page's read models as pure builders: the escalation view (current step,
next step at, who was paged, never an address) and the timeline window's cursor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from routing.paging.escalation import EscalationPolicy
from routing.response.incident_detail import escalation_view, timeline_window

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
POLICY = EscalationPolicy.model_validate(
    {"name": "ops", "repeat": 1, "steps": [{"notify": ["user:alice"], "wait": "5m"},
                                           {"notify": ["schedule:primary"], "wait": "10m"}]}
)  # fmt: skip


def row(**values: Any) -> dict[str, Any]:
    base = {"id": 7, "policy": "ops", "round": 1, "state": "active", "pass_no": 0,
            "step_no": 1, "due_at": NOW + timedelta(minutes=5), "paused_at": None,
            "paused_reason": None, "started_at": NOW - timedelta(minutes=5),
            "finished_at": None, "reason": None}  # fmt: skip
    return {**base, **values}


PAGE = {"escalation_id": 7, "recipient": "alice", "via": "user:alice", "step": "step 1 of 2",
        "status": "sent", "sent_at": NOW - timedelta(minutes=4), "created_at": NOW}  # fmt: skip


def test_an_active_escalation_shows_its_next_step_and_who_was_paged() -> None:
    (view,) = escalation_view([row()], [PAGE, {**PAGE, "escalation_id": 8}], {"ops": POLICY}, NOW)
    assert view["step"] == "step 2 of 2, pass 1 of 2"
    assert view["next_at"] == NOW + timedelta(minutes=5) and not view["overdue"]
    assert view["next_targets"] == ["schedule:primary"]
    assert [p["recipient"] for p in view["paged"]] == ["alice"]
    assert "address" not in view["paged"][0]


def test_paused_stopped_and_unknown_policies() -> None:
    paused, stopped = escalation_view(
        [row(state="stopped", reason="acknowledged by bob"),
         row(id=9, round=2, paused_at=NOW, paused_reason="silenced")],
        [], {"ops": POLICY}, NOW,
    )  # fmt: skip
    assert (paused["round"], paused["paused"], paused["next_at"]) == (2, True, None)
    assert paused["paused_reason"] == "silenced"
    assert (stopped["step"], stopped["next_at"], stopped["reason"]) == (
        None, None, "acknowledged by bob",
    )  # fmt: skip
    (gone,) = escalation_view([row(due_at=NOW)], [], {}, NOW)
    assert gone["step"] == "step 2, pass 1" and gone["overdue"] and not gone["known_policy"]


def test_the_timeline_window_gives_a_cursor_only_when_more_are_older() -> None:
    rows = [{"id": i} for i in range(10, 0, -1)]
    page = timeline_window(rows[:4], 3, more_below=False)
    assert ([e["id"] for e in page.entries], page.older, page.since) == ([10, 9, 8], 8, 8)
    last = timeline_window(rows[:3], 3, more_below=False)
    assert last.older is None
    assert timeline_window(rows[:2], 3, more_below=True).older == 9
    assert timeline_window([], 3, more_below=False).since is None
