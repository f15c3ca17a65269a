"""Inhibition with Alertmanager semantics."""

from __future__ import annotations

import pytest

from routing.muting.inhibition import InhibitRule, inhibited_by

RULE = InhibitRule.model_validate(
    {
        "source_matchers": ['severity="critical"'],
        "target_matchers": ['severity="warning"'],
        "equal": ["service"],
    }
)
CRITICAL_API = {"severity": "critical", "service": "api", "alertname": "Down"}


@pytest.mark.parametrize(
    ("target", "firing", "inhibited"),
    [
        ({"severity": "warning", "service": "api"}, [CRITICAL_API], True),
        ({"severity": "warning", "service": "web"}, [CRITICAL_API], False),  # `equal` differs
        ({"severity": "info", "service": "api"}, [CRITICAL_API], False),  # not a target
        ({"severity": "warning", "service": "api"}, [], False),  # no firing source
        (
            {"severity": "warning", "service": "api"},
            [{"severity": "warning", "service": "api"}],
            False,
        ),
        ({"severity": "warning"}, [{"severity": "critical"}], True),  # missing == missing
        ({"severity": "warning"}, [{"severity": "critical", "service": "api"}], False),
        ({"severity": "warning", "service": ""}, [{"severity": "critical"}], True),  # "" == missing
    ],
)
def test_inhibition_table(
    target: dict[str, str], firing: list[dict[str, str]], inhibited: bool
) -> None:
    found = inhibited_by([RULE], target, firing)
    assert (found is not None) is inhibited
    if found:
        assert found == (RULE, firing[0])


def test_an_alert_never_inhibits_itself_or_a_two_sided_peer() -> None:
    # Both sides match any alert with service="api": the alert is its own source and target.
    rule = InhibitRule.model_validate(
        {
            "source_matchers": ['service="api"'],
            "target_matchers": ['service="api"'],
            "equal": ["zone"],
        }
    )
    alert = {"service": "api", "zone": "eu", "alertname": "A"}
    peer = {"service": "api", "zone": "eu", "alertname": "B"}
    assert inhibited_by([rule], alert, [alert]) is None
    assert (
        inhibited_by([rule], alert, [alert, peer]) is None
    )  # Alertmanager: two-sided matches skip


def test_first_rule_that_inhibits_is_reported() -> None:
    by_cluster = InhibitRule.model_validate(
        {
            "source_matchers": ['alertname="ClusterDown"'],
            "target_matchers": ['severity=~".+"'],
            "equal": ["cluster"],
        }
    )
    down = {"alertname": "ClusterDown", "cluster": "c1", "severity": "critical", "service": "api"}
    target = {"severity": "warning", "service": "api", "cluster": "c1"}
    assert inhibited_by([by_cluster, RULE], target, [down]) == (by_cluster, down)
    assert inhibited_by([RULE, by_cluster], target, [down]) == (RULE, down)
