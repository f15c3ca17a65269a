"""Route tree semantics, tabled the way Alertmanager's dispatch/route_test.go does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import yaml
from pydantic import ValidationError

from routing.basics.duration import format_duration
from routing.muting.time_interval import TimeInterval
from routing.muting.tree import Route, compile_tree, route_alert
from routing.paging.policy import PolicyConfig

# The shape of Alertmanager's TestRouteMatch tree, with channels standing in for receivers.
TREE = yaml.safe_load(
    """
receiver: {channels: ["slack:#def"]}
routes:
  - matchers: ['owner="team-A"']
    receiver: {channels: ["slack:#team-a"]}
    routes:
      - matchers: ['env="testing"']
        receiver: {channels: ["slack:#testing"]}
        group_by: ["..."]
      - matchers: ['env="production"']
        receiver: {channels: ["slack:#production-a"]}
        group_wait: 1w
        continue: true
      - matchers: ['env=~"produ.*"', 'job=~".*"']
        receiver: {channels: ["slack:#production-b"]}
        group_wait: 30s
        group_interval: 5m
        repeat_interval: 1h
        group_by: [job]
  - matchers: ['owner=~"team-(B|C)"']
    group_by: [foo, bar]
    group_wait: 2m
    receiver: {channels: ["slack:#bc"]}
  - matchers: ['group_by="role"']
    group_by: [role]
    routes:
      - matchers: ['env="testing"']
        receiver: {channels: ["slack:#testing"]}
        routes:
          - matchers: ['wait="long"']
            group_wait: 2m
"""
)
ROOT = compile_tree(Route.model_validate(TREE))
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        # labels -> [(path, channel, group_by, group_wait)]
        ({"owner": "team-A"}, [("root/0", "#team-a", ("service", "alertname"), "0s")]),
        (
            {"owner": "team-A", "env": "unset"},
            [("root/0", "#team-a", ("service", "alertname"), "0s")],
        ),
        ({"owner": "team-C"}, [("root/1", "#bc", ("foo", "bar"), "2m")]),
        ({"owner": "team-B"}, [("root/1", "#bc", ("foo", "bar"), "2m")]),
        ({"owner": "team-BC"}, [("root", "#def", ("service", "alertname"), "0s")]),  # anchored
        (
            {"owner": "team-A", "env": "production"},
            [
                ("root/0/1", "#production-a", ("service", "alertname"), "7d"),
                ("root/0/2", "#production-b", ("job",), "30s"),
            ],
        ),
        (
            {"owner": "team-A", "env": "testing", "zone": "eu"},
            [("root/0/0", "#testing", ("env", "owner", "zone"), "0s")],  # "..." = every label
        ),
        ({"group_by": "role"}, [("root/2", "#def", ("role",), "0s")]),
        ({"env": "testing", "group_by": "role"}, [("root/2/0", "#testing", ("role",), "0s")]),
        (
            {"env": "testing", "group_by": "role", "wait": "long"},
            [("root/2/0/0", "#testing", ("role",), "2m")],
        ),
        ({"owner": "team-X"}, [("root", "#def", ("service", "alertname"), "0s")]),
        ({}, [("root", "#def", ("service", "alertname"), "0s")]),
    ],
)
def test_route_table(
    labels: dict[str, str], expected: list[tuple[str, str, tuple[str, ...], str]]
) -> None:
    got = [
        (
            m.path,
            m.receiver.channels[0].removeprefix("slack:"),
            m.group_by,
            format_duration(m.group_wait),
        )
        for m in route_alert(ROOT, labels, NOW, {})
    ]
    assert got == expected


def test_timers_inherit_and_default() -> None:
    [match] = route_alert(ROOT, {"owner": "team-A", "env": "testing"}, NOW, {})
    assert (match.group_interval, match.repeat_interval) == (
        timedelta(minutes=5),
        timedelta(hours=4),
    )
    [_, second] = route_alert(ROOT, {"owner": "team-A", "env": "production"}, NOW, {})
    assert second.repeat_interval == timedelta(hours=1)


def test_explicit_empty_group_by_is_not_inherited() -> None:
    tree = Route.model_validate(
        {"group_by": ["a"], "routes": [{"matchers": ["x=y"], "group_by": []}]}
    )
    assert route_alert(tree, {"x": "y"}, NOW, {})[0].group_by == ()


def test_receiver_inherited_when_child_sets_none() -> None:
    tree = Route.model_validate(
        {"receiver": {"escalation": "p"}, "routes": [{"matchers": ["x=y"], "group_wait": "10s"}]}
    )
    [match] = route_alert(tree, {"x": "y"}, NOW, {})
    assert (match.path, match.receiver.escalation, match.group_wait) == (
        "root/0",
        "p",
        timedelta(seconds=10),
    )


INTERVALS = {
    "business-hours": TimeInterval.model_validate(
        {
            "name": "business-hours",
            "weekdays": ["monday:friday"],
            "times": ["09:00-18:00"],
            "location": "Europe/Madrid",
        }
    ),
    "maintenance": TimeInterval.model_validate(
        {"name": "maintenance", "weekdays": ["sunday"], "times": ["02:00-04:00"]}
    ),
}
TIMED = Route.model_validate(
    {
        "routes": [
            {
                "matchers": ['severity="warning"'],
                "active_time_intervals": ["business-hours"],
                "continue": True,
            },
            {"matchers": ['severity=~"warning|critical"'], "mute_time_intervals": ["maintenance"]},
        ]
    }
)


@pytest.mark.parametrize(
    ("labels", "instant", "expected"),
    [
        # Monday 2026-06-01 10:00 UTC is 12:00 in Madrid: inside business hours.
        ({"severity": "warning"}, datetime(2026, 6, 1, 10), [("root/0", None), ("root/1", None)]),
        (
            {"severity": "warning"},
            datetime(2026, 6, 1, 20),
            [("root/0", "outside active_time_intervals: business-hours"), ("root/1", None)],
        ),
        (
            {"severity": "critical"},
            datetime(2026, 6, 7, 3),  # Sunday 03:00 UTC
            [("root/1", "mute_time_intervals: maintenance")],
        ),
        ({"severity": "critical"}, datetime(2026, 6, 7, 4), [("root/1", None)]),
    ],
)
def test_time_intervals_mute_but_still_match(
    labels: dict[str, str], instant: datetime, expected: list[tuple[str, str | None]]
) -> None:
    # A muted route still ends the search (Alertmanager): it only stops notifying.
    matches = route_alert(TIMED, labels, instant.replace(tzinfo=UTC), INTERVALS)
    assert [(m.path, m.time_reason) for m in matches] == expected
    assert all(m.muted_by_time is (m.time_reason is not None) is (not m.active) for m in matches)


@pytest.mark.parametrize(
    ("route", "error"),
    [
        ({"matchers": ["a=b"]}, "root route must not have matchers"),
        ({"continue": True}, "cannot have `continue`"),
        ({"mute_time_intervals": ["x"]}, "cannot have time intervals"),
        (
            {"routes": [{"receiver": {"escalation": "nope"}}]},
            "route.routes.0.receiver.escalation: unknown escalation",
        ),
        (
            {"routes": [{"routes": [{"active_time_intervals": ["never"]}]}]},
            "route.routes.0.routes.0.active_time_intervals.0: unknown time interval 'never'",
        ),
        ({"group_by": ["...", "service"]}, "must be alone"),
        ({"routes": [{"matchers": ['a=~"("']}]}, "invalid regex"),
        ({"receiver": {"channels": ["slack:general"]}}, "invalid Slack target"),
        ({"receiver": {"channels": ["discord:#ops"]}}, "invalid Discord target"),
        ({"routes": [{"recevier": {}}]}, "Extra inputs"),
    ],
)
def test_route_validation(route: dict, error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        PolicyConfig.model_validate({"route": route})


def test_field_errors_carry_their_path() -> None:
    with pytest.raises(ValidationError) as info:
        PolicyConfig.model_validate({"route": {"routes": [{}, {"matchers": ["bad"]}]}})
    assert info.value.errors()[0]["loc"] == ("route", "routes", 1, "matchers")


def test_route_alert_compiles_plain_routes_the_same() -> None:
    route = Route.model_validate(TREE)
    labels = {"owner": "team-A", "env": "production"}
    assert route_alert(route, labels, NOW, {}) == route_alert(ROOT, labels, NOW, {})
