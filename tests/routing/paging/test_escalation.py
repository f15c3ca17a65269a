"""Escalation plans and target resolution."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import yaml
from pydantic import ValidationError

from routing.paging.escalation import (
    EscalationPolicy,
    PlannedStep,
    Recipient,
    plan,
    resolve_targets,
    split_target,
    step_at,
)
from routing.paging.policy import PolicyConfig
from tests.support.paths import POLICY_EXAMPLE

START = datetime(2026, 6, 1, 12, tzinfo=UTC)
POLICY = EscalationPolicy.model_validate(
    {
        "name": "backend",
        "repeat": 2,
        "steps": [
            {"notify": ["schedule:backend-primary"], "wait": "5m"},
            {"notify": ["user:carol", "team:backend"], "wait": "10m"},
        ],
    }
)
CONFIG = PolicyConfig.model_validate(yaml.safe_load(POLICY_EXAMPLE.read_text()))


def test_plan_waits_and_passes() -> None:
    minutes = [
        (s.index, s.pass_no, s.step_no, int((s.due_at - START) / timedelta(minutes=1)))
        for s in plan(POLICY, START)
    ]
    assert minutes == [
        (0, 0, 0, 0),
        (1, 0, 1, 5),
        (2, 1, 0, 15),
        (3, 1, 1, 20),
        (4, 2, 0, 30),
        (5, 2, 1, 35),
    ]
    assert plan(POLICY, START)[1].targets == ("user:carol", "team:backend")


@pytest.mark.parametrize(
    ("index", "due_minutes"), [(0, 0), (3, 20), (5, 35), (6, None), (-1, None)]
)
def test_step_at(index: int, due_minutes: int | None) -> None:
    step = step_at(POLICY, START, index)
    if due_minutes is None:
        assert step is None  # after the last step of the last pass nothing more
    else:
        assert isinstance(step, PlannedStep)
        assert step.due_at == START + timedelta(minutes=due_minutes)
        assert step == plan(POLICY, START)[index]


def test_no_repeat_single_step() -> None:
    once = EscalationPolicy.model_validate({"name": "once", "steps": [{"notify": ["user:bob"]}]})
    assert [(s.index, s.due_at) for s in plan(once, START)] == [(0, START)]
    assert step_at(once, START, 1) is None


def test_resolve_targets_example() -> None:
    # Thursday 2026-12-24 20:00 Madrid: carol's override is on for the schedule.
    at = datetime(2026, 12, 24, 19, tzinfo=UTC)
    args = (CONFIG.users_by_name, CONFIG.teams_by_name, CONFIG.schedules_by_name)
    assert resolve_targets(["schedule:backend-primary"], at, *args) == [
        Recipient("user", "carol", "ntfy://ntfy.example.com/carol", "schedule:backend-primary")
    ]
    # carol is reached once (through the schedule); the team notifies its channel, not members.
    assert resolve_targets(
        ["schedule:backend-primary", "user:carol", "team:backend"], at, *args
    ) == [
        Recipient("user", "carol", "ntfy://ntfy.example.com/carol", "schedule:backend-primary"),
        Recipient("channel", "backend", "slack:#backend-alerts", "team:backend"),
    ]
    monday = datetime(2026, 12, 21, 10, tzinfo=UTC)  # bob's week
    assert resolve_targets(["schedule:backend-primary"], monday, *args) == [
        Recipient("user", "bob", "mailto://bob@example.com", "schedule:backend-primary")
    ]
    with pytest.raises(KeyError, match="unknown user 'zed'"):
        resolve_targets(["user:zed"], at, *args)


def test_user_expands_to_every_contact() -> None:
    config = PolicyConfig.model_validate(
        {
            "users": [
                {"name": "dana", "contacts": ["mailto://d@example.com", "ntfy://n.example.com/d"]}
            ]
        }
    )
    got = resolve_targets(["user:dana"], START, config.users_by_name, {}, {})
    assert [r.address for r in got] == ["mailto://d@example.com", "ntfy://n.example.com/d"]
    assert {r.via for r in got} == {"user:dana"}


@pytest.mark.parametrize(
    ("target", "ok"),
    [
        ("schedule:a", True),
        ("user:b", True),
        ("team:c", True),
        ("slack:#x", False),
        ("user:", False),
        ("bob", False),
    ],
)
def test_target_syntax(target: str, ok: bool) -> None:
    if ok:
        assert split_target(target)[1] == target.split(":")[1]
    else:
        with pytest.raises(ValueError, match="invalid target"):
            split_target(target)


@pytest.mark.parametrize(
    ("policy", "error"),
    [
        ({"name": "p", "steps": []}, "at least 1 item"),
        (
            {"name": "p", "repeat": -1, "steps": [{"notify": ["user:a"]}]},
            "greater than or equal to 0",
        ),
        ({"name": "p", "steps": [{"notify": []}]}, "at least 1 item"),
        ({"name": "p", "steps": [{"notify": ["pager:a"]}]}, "invalid target"),
        ({"name": "p", "steps": [{"notify": ["user:a"], "wait": "soon"}]}, "invalid duration"),
    ],
)
def test_policy_validation(policy: dict, error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        EscalationPolicy.model_validate(policy)
