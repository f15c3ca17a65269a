"""Grouping through the ingest shell on the real databases (SQLite and PostgreSQL): exact
group_by within a source, correlation across sources bounded in time, no grouping on an
unknown service, the route's group_by, and the `why` each alert keeps."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from routing.intake.alert import UNKNOWN_SERVICE, Alert, AlertStatus, Severity
from routing.intake.episode_store import ALERT
from routing.intake.fingerprint import fingerprint_of
from routing.intake.incident_assignment import INCIDENT
from routing.intake.ingest import ingest
from routing.intake.submission import IngestPolicy, Submission
from routing.storage.database import make_engine

T0 = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
POLICY = IngestPolicy(correlate_within=timedelta(minutes=15))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def am(
    name: str, service: str | None = "api", severity: Severity = Severity.CRITICAL, **extra: str
) -> Alert:
    identity = {"alertname": name, **({"service": service} if service else {}), **extra}
    return Alert(
        "alertmanager", fingerprint_of("alertmanager", identity), AlertStatus.FIRING, severity,
        service or UNKNOWN_SERVICE, name,
        # As the parser fills it in when neither `service` nor `job` is there.
        labels={**identity, "service": service or UNKNOWN_SERVICE},
        fingerprint_fields=identity,
    )  # fmt: skip


def sentry(issue: str, service: str = "api") -> Alert:
    fields = {"issue_id": issue}
    return Alert(
        "sentry", fingerprint_of("sentry", fields), AlertStatus.FIRING, Severity.ERROR, service,
        f"TypeError in issue {issue}", labels={"service": service, "level": "error"},
        fingerprint_fields=fields,
    )  # fmt: skip


def nginx(server: str, service: str = UNKNOWN_SERVICE) -> Alert:
    fields = {"template": "connect() failed", "server": server}
    return Alert(
        "nginx", fingerprint_of("nginx", fields), AlertStatus.FIRING, Severity.ERROR, service,
        "connect() failed", labels={"service": service, "server": server},
        fingerprint_fields=fields,
    )  # fmt: skip


def run(
    engine: Engine, alerts: Sequence[Alert], at: datetime, policy: IngestPolicy = POLICY
) -> list[int | None]:
    with engine.begin() as conn:
        outcome = ingest(conn, [Submission("test", alerts, body=b"{}")], at, policy)
    return [a.incident_id for a in outcome.submissions[0].alerts]


def incidents(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(INCIDENT).order_by(INCIDENT.c.id)).mappings()]


def reasons(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(select(ALERT.c.title, ALERT.c.group_reason)).all()
    return {title: reason for title, reason in rows}


def test_an_alert_without_service_does_not_join_another_sources_unknown_incident(
    engine: Engine,
) -> None:
    [nginx_incident] = run(engine, [nginx("_")], T0)
    [cert] = run(engine, [am("CertExpiringSoon", service=None)], T0 + timedelta(seconds=5))
    assert cert != nginx_incident
    first = incidents(engine)[0]
    assert first["severity"] == "error" and first["alert_count"] == 1  # not raised to critical
    assert reasons(engine)["CertExpiringSoon"].endswith("no known service")
    # Within its own source it still groups by exact values: the same alertname joins.
    [again] = run(engine, [am("CertExpiringSoon", service=None, instance="b")], T0)
    assert again == cert


def test_within_a_source_a_missing_label_is_no_wildcard(engine: Engine) -> None:
    """An Alertmanager alert without an alertname label keys only on {service}; later
    alertnames of the service are their own groups (as in Alertmanager), not joiners."""
    bare = Alert(
        "alertmanager", "f" * 32, AlertStatus.FIRING, Severity.WARNING, "api", "probe",
        labels={"service": "api"},
    )  # fmt: skip
    [first] = run(engine, [bare], T0)
    [disk] = run(engine, [am("Disk")], T0)
    [cpu] = run(engine, [am("Cpu")], T0 + timedelta(hours=1))
    assert len({first, disk, cpu}) == 3


def test_another_source_joins_within_correlate_within_and_not_after(engine: Engine) -> None:
    [issue] = run(engine, [sentry("1")], T0)
    [high] = run(engine, [am("HighErrorRate")], T0 + timedelta(minutes=10))
    assert high == issue
    why = reasons(engine)["HighErrorRate"]
    assert why.startswith(f"joined incident #{issue} by correlation: service api")
    assert "alerts of sentry and gained one 10m ago (grouping.correlate_within 15m)" in why
    # The join counts as gaining an alert: the window runs from 10m on.
    [disk] = run(engine, [am("DiskFull")], T0 + timedelta(minutes=26))
    assert disk != issue
    assert "no incident of service api with alerts of another source" in reasons(engine)["DiskFull"]
    # The correlated alert's own group stays with the incident, however late.
    [more] = run(engine, [am("HighErrorRate", instance="api-2")], T0 + timedelta(hours=2))
    assert more == issue
    assert reasons(engine)["HighErrorRate"].startswith(f"joined incident #{issue}: same group")
    row = incidents(engine)[0]
    assert (row["sources"], row["last_alert_at"]) == (
        '["alertmanager","sentry"]',
        T0 + timedelta(hours=2),
    )


def test_an_incident_of_the_alerts_own_source_is_no_correlation_partner(engine: Engine) -> None:
    [disk] = run(engine, [am("Disk")], T0)
    [cpu] = run(engine, [am("Cpu")], T0 + timedelta(minutes=1))
    [issue] = run(engine, [sentry("9")], T0 + timedelta(minutes=2))
    assert disk != cpu and issue == cpu  # the most recently active incident of api


def test_zero_correlate_within_keeps_sources_apart(engine: Engine) -> None:
    apart = IngestPolicy(correlate_within=timedelta(0))
    assert len(set(run(engine, [sentry("1"), am("HighErrorRate")], T0, apart))) == 2


def test_the_route_group_by_decides(engine: Engine) -> None:
    by_route = {"db": ("service",), "cache": ("...",)}
    policy = IngestPolicy(
        route_group_by=lambda alert: by_route.get(alert.service, ("service", "alertname"))
    )
    db = run(engine, [am("Disk", "db"), am("Cpu", "db")], T0, policy)
    assert db[0] == db[1]  # grouped by service alone
    cache = run(
        engine,
        [am("Evictions", "cache", instance="a"), am("Evictions", "cache", instance="b")],
        T0,
        policy,
    )
    assert cache[0] != cache[1]  # ['...']: every alert its own group
    api = run(engine, [am("Disk"), am("Cpu")], T0, policy)
    assert api[0] != api[1]


def test_replicas_keep_one_incident_per_group_when_group_by_leaves_out_the_service(
    database_url: str,
) -> None:
    """Alerts of several services in one group (group_by: [alertname]) arrive at once
    through several connections: the group's own lock keeps them to one open incident
    (the services' locks alone would let two replicas open it twice)."""
    policy = IngestPolicy(group_by=("alertname",), correlate_within=timedelta(0))
    rounds = 20
    engines = [make_engine(database_url) for _ in range(4)]
    barrier = threading.Barrier(len(engines))
    errors: list[BaseException] = []

    def worker(engine: Engine, service: str) -> None:
        try:
            for round_ in range(rounds):  # each round a new group the replicas race to open
                barrier.wait()
                run(engine, [am(f"Disk{round_}", service)], T0, policy)
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(e, f"svc{i}")) for i, e in enumerate(engines)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    opened = sorted((i["group_key"], i["alert_count"]) for i in incidents(engines[0]))
    assert opened == sorted((f'alertmanager {{"alertname":"Disk{r}"}}', 4) for r in range(rounds))
    for engine in engines:
        engine.dispose()
