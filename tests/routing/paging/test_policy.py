"""The routing-policy config sections: the example loads as written; references are checked."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from routing.paging.policy import PolicyConfig
from tests.support.paths import POLICY_EXAMPLE

EXAMPLE = yaml.safe_load(POLICY_EXAMPLE.read_text())


class Settings(PolicyConfig):
    """Stands in for bot/config.py's Settings, which adds its own sections."""

    database_url: str = "sqlite://"


def test_issue_example_loads_beside_other_sections() -> None:
    config = Settings.model_validate({**EXAMPLE, "database_url": "sqlite:///x.db"})
    assert config.user("alice").slack_id == "U01ALICE"
    assert config.team("backend").members == ["alice", "bob", "carol"]
    assert config.schedule("backend-primary").time_zone.key == "Europe/Madrid"
    assert config.escalation_policy("backend").repeat == 2
    assert config.time_interval("business-hours").location.key == "Europe/Madrid"
    assert config.user_by_slack_id("U01ALICE") is config.user("alice")
    assert config.user_by_discord_id("1001") is config.user("alice")
    with pytest.raises(KeyError, match="unknown user 'zed' \\(known: alice, bob, carol\\)"):
        config.user("zed")
    with pytest.raises(ValidationError, match="Extra inputs"):
        Settings.model_validate({**EXAMPLE, "sections": []})


def test_round_trips_through_its_dump() -> None:
    config = PolicyConfig.model_validate(EXAMPLE)
    again = PolicyConfig.model_validate(config.model_dump(mode="json", by_alias=True))
    assert again.model_dump() == config.model_dump()


@pytest.mark.parametrize(
    ("labels", "instant", "expected"),
    [
        # critical api: the escalation route (continue) and nothing else matches.
        (
            {"severity": "critical", "service": "api"},
            datetime(2026, 6, 1, 10),
            [("root/0", "backend", False)],
        ),
        (
            {"severity": "critical", "service": "db"},
            datetime(2026, 6, 1, 10),
            [("root", None, False)],
        ),
        (
            {"severity": "warning", "service": "db"},
            datetime(2026, 6, 1, 10),
            [("root/1", None, False)],
        ),
        (
            {"severity": "info", "service": "db"},
            datetime(2026, 6, 1, 20),
            [("root/1", None, True)],
        ),  # 22:00 Madrid
    ],
)
def test_example_routes(
    labels: dict[str, str], instant: datetime, expected: list[tuple[str, str | None, bool]]
) -> None:
    config = PolicyConfig.model_validate(EXAMPLE)
    got = config.route_alert(labels, instant.replace(tzinfo=UTC))
    assert [(m.path, m.receiver.escalation, m.muted_by_time) for m in got] == expected


def test_empty_config_has_a_silent_root_route() -> None:
    for config in (PolicyConfig(), PolicyConfig.model_validate({"route": None})):
        [match] = config.route_alert({"severity": "critical"}, datetime(2026, 1, 1, tzinfo=UTC))
        assert (match.path, match.receiver.escalation, match.receiver.channels) == (
            "root",
            None,
            [],
        )


def _with(**changes: Any) -> dict[str, Any]:
    return {**EXAMPLE, **changes}


@pytest.mark.parametrize(
    ("config", "error"),
    [
        (
            _with(users=EXAMPLE["users"] + [{"name": "alice"}]),
            "users.3.name: duplicate name 'alice'",
        ),
        (
            _with(
                teams=[
                    {"name": "backend", "members": ["alice", "mallory"], "channels": ["slack:#x"]}
                ]
            ),
            "teams.0.members.1: unknown user 'mallory' \\(known: alice, bob, carol\\)",
        ),
        (
            _with(
                schedules=[
                    {
                        "name": "backend-primary",
                        "layers": [{"rotation": "daily", "members": ["zed"]}],
                    }
                ]
            ),
            "schedules.0.layers.0.members.0: unknown user 'zed'",
        ),
        (
            _with(
                schedules=[
                    {
                        "name": "backend-primary",
                        "layers": [{"rotation": "daily", "members": ["bob"]}],
                        "overrides": [
                            {"user": "zed", "start": "2026-01-01T00:00", "end": "2026-01-02T00:00"}
                        ],
                    }
                ]
            ),
            "schedules.0.overrides.0.user: unknown user 'zed'",
        ),
        (
            _with(
                escalation_policies=[{"name": "backend", "steps": [{"notify": ["schedule:nope"]}]}]
            ),
            "escalation_policies.0.steps.0.notify.0: "
            "unknown schedule 'nope' \\(known: backend-primary\\)",
        ),
        (
            _with(
                escalation_policies=[{"name": "backend", "steps": [{"notify": ["team:ghosts"]}]}]
            ),
            "unknown team 'ghosts'",
        ),
        (
            _with(
                teams=[{"name": "backend", "members": ["alice"]}],
                escalation_policies=[{"name": "backend", "steps": [{"notify": ["team:backend"]}]}],
            ),
            "escalation_policies.0.steps.0.notify.0: team 'backend' has no channels",
        ),
        (
            _with(
                users=[
                    {"name": "alice"},
                    {"name": "bob", "contacts": ["mailto://b@x.io"]},
                    {"name": "carol", "contacts": ["mailto://c@x.io"]},
                ]
            ),
            "schedules.0.layers.0.members.0: user 'alice' can be paged but has no contacts",
        ),
        (
            _with(route={"routes": [{"receiver": {"escalation": "frontend"}}]}),
            "route.routes.0.receiver.escalation: "
            "unknown escalation policy 'frontend' \\(known: backend\\)",
        ),
        (
            _with(route={"routes": [{"mute_time_intervals": ["weekends"]}]}),
            "route.routes.0.mute_time_intervals.0: unknown time interval 'weekends'",
        ),
    ],
)
def test_cross_reference_errors_name_the_path(config: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        PolicyConfig.model_validate(config)


def test_field_errors_carry_pydantic_locations() -> None:
    with pytest.raises(ValidationError) as info:
        PolicyConfig.model_validate(
            _with(inhibit_rules=[{"source_matchers": ["bad"], "target_matchers": ["a=b"]}])
        )
    assert info.value.errors()[0]["loc"] == ("inhibit_rules", 0, "source_matchers")


def test_config_silences_section() -> None:
    config = PolicyConfig.model_validate(
        _with(
            silences=[
                {
                    "matchers": ['service="api"'],
                    "comment": "weekly maintenance",
                    "recurrence": {
                        "weekdays": ["sunday"],
                        "times": ["02:00-04:00"],
                        "time_zone": "Europe/Madrid",
                    },
                }
            ]
        )
    )
    assert config.silences[0].created_by == "config"
