"""OpenIncidents (the indexed form) must choose exactly what choose_incident (the plain,
readable rule) chooses, whatever incidents are open, whatever they gained and however
they came and went; and the rule itself, case by case."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from routing.intake.grouping import (
    GroupKey,
    Join,
    JoinKind,
    OpenIncident,
    OpenIncidents,
    choose_incident,
)

T0 = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
GROUP_BY = ("service", "alertname")


@dataclass(frozen=True)
class Alert:
    source: str
    service: str | None
    alertname: str

    @property
    def key(self) -> GroupKey:
        labels = {"alertname": self.alertname}
        if self.service:
            labels["service"] = self.service
        return GroupKey.of(self.source, labels, GROUP_BY)


alerts = st.builds(
    Alert,
    st.sampled_from(["alertmanager", "sentry", "nginx"]),
    st.sampled_from([None, "api", "web"]),
    st.sampled_from(["", "Disk", "Cpu"]),
)
instants = st.integers(min_value=0, max_value=60).map(lambda m: T0 + timedelta(minutes=m))
windows = st.sampled_from([timedelta(0), timedelta(minutes=10), timedelta(minutes=15)])
# Each step opens an incident for an alert, adds an alert to the n-th open one, or
# resolves the n-th open one.
opens = st.tuples(st.just("open"), alerts, instants)
gains = st.tuples(st.just("gain"), st.integers(0, 20), alerts, instants)
resolves = st.tuples(st.just("resolve"), st.integers(0, 20))
steps = st.lists(st.one_of(opens, gains, resolves), max_size=25)


@settings(max_examples=400, deadline=None)
@given(steps=steps, asked=st.lists(st.tuples(alerts, instants, windows), min_size=1, max_size=6))
def test_the_index_chooses_what_the_plain_rule_chooses(
    steps: list[tuple], asked: list[tuple[Alert, datetime, timedelta]]
) -> None:
    index = OpenIncidents()
    plain: list[OpenIncident] = []
    next_id = 1
    for step in steps:
        if step[0] == "open":
            _, alert, at = step
            incident = OpenIncident(next_id, alert.service, {alert.source}, at, {alert.key.text()})
            index.add(copy.deepcopy(incident))
            plain.append(incident)
            next_id += 1
        elif plain and step[0] == "gain":
            _, n, alert, at = step
            incident = plain[n % len(plain)]
            incident.gained(alert.key, at)
            index.gained(incident.id, alert.key, at)
        elif plain:
            gone = plain.pop(step[1] % len(plain))
            index.remove(gone.id)
        for alert, now, within in asked:  # asking between changes exercises the cached tables
            expected = choose_incident(alert.key, alert.service, now, within, plain)
            assert index.choose(alert.key, alert.service, now, within) == expected


AM = "alertmanager"


def incident(
    id_: int, service: str | None, sources: set[str], minutes: int, *groups: GroupKey
) -> OpenIncident:
    return OpenIncident(
        id_, service, sources, T0 + timedelta(minutes=minutes), {g.text() for g in groups}
    )


def key(source: str, **labels: str) -> GroupKey:
    return GroupKey.of(source, labels, GROUP_BY)


WINDOW = timedelta(minutes=15)


def test_a_label_one_side_lacks_is_no_wildcard_within_a_source() -> None:
    # An Alertmanager incident of `api` with no alertname does not take every alertname.
    bare = incident(1, "api", {AM}, 0, key(AM, service="api"))
    disk = key(AM, service="api", alertname="Disk")
    assert choose_incident(disk, "api", T0, WINDOW, [bare]) is None
    assert choose_incident(key(AM, service="api"), "api", T0, WINDOW, [bare]) == Join(
        1, JoinKind.SAME_GROUP
    )


def test_another_source_correlates_only_within_the_window() -> None:
    sentry = incident(1, "api", {"sentry"}, 0, key("sentry", service="api"))
    disk = key(AM, service="api", alertname="Disk")
    joined = choose_incident(disk, "api", T0 + WINDOW, WINDOW, [sentry])
    assert joined == Join(1, JoinKind.CORRELATED, ("sentry",), T0, "api")
    assert "gained one 15m ago" in joined.reason(disk, T0 + WINDOW, WINDOW)
    later = T0 + WINDOW + timedelta(seconds=1)
    assert choose_incident(disk, "api", later, WINDOW, [sentry]) is None
    assert choose_incident(disk, "api", T0, timedelta(0), [sentry]) is None  # 0s: off


def test_no_service_never_correlates() -> None:
    nginx = incident(1, None, {"nginx"}, 0, key("nginx"))
    cert = key(AM, alertname="CertExpiringSoon")
    assert choose_incident(cert, None, T0, WINDOW, [nginx]) is None


def test_correlation_prefers_the_most_recently_active_incident_then_the_oldest() -> None:
    older = incident(1, "api", {"sentry"}, 0, key("sentry", service="api"))
    newer = incident(2, "api", {"nginx"}, 5, key("nginx", service="api"))
    same_time = incident(3, "api", {"nginx"}, 5, key("nginx", service="api", alertname="x"))
    disk = key(AM, service="api", alertname="Disk")
    chosen = choose_incident(
        disk, "api", T0 + timedelta(minutes=6), WINDOW, [older, newer, same_time]
    )
    assert chosen is not None and chosen.incident_id == 2
    # An incident holding only the alert's own source is no correlation partner.
    own = incident(4, "api", {AM}, 6, key(AM, service="api", alertname="Cpu"))
    index = OpenIncidents([own])
    assert index.choose(disk, "api", T0 + timedelta(minutes=6), WINDOW) is None


def test_a_correlation_names_the_service_even_when_group_by_leaves_it_out() -> None:
    # group_by: [alertname]: the key carries no service, the correlation still has one.
    sentry = incident(1, "api", {"sentry"}, 0, key("sentry", service="api"))
    disk = GroupKey.of(AM, {"service": "api", "alertname": "Disk"}, ("alertname",))
    joined = choose_incident(disk, "api", T0, WINDOW, [sentry])
    assert joined is not None and joined.kind is JoinKind.CORRELATED
    assert "service api," in joined.reason(disk, T0, WINDOW)
