"""The `grouping` section's keys change what ingest does (bot.runtime.state's
ingest_policy carries them there), on SQLite and PostgreSQL. correlate_within and
group_wait: tests/routing/intake/test_grouping_store.py, tests/bot/cli/test_simulate_grouping.py
and tests/bot/http/test_e2e_grouping.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.config import parse_config
from bot.runtime.state import ingest_policy
from integrations.sources import SOURCES, SourceOptions
from routing.intake.dedup import DecisionKind
from routing.intake.episode_store import ALERT
from routing.intake.ingest import ingest
from routing.intake.submission import AlertOutcome, Submission
from routing.storage.database import make_engine
from tests.support.paging import am_payload

T = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


def run(
    database_url: str, grouping: str, posts: list[tuple[bytes, timedelta]]
) -> list[AlertOutcome]:
    settings = parse_config(f'database_url: "{database_url}"\ngrouping: {grouping}\n', {})
    policy = ingest_policy(settings)
    engine = make_engine(database_url)
    decided = []
    try:
        for body, after in posts:
            alerts = SOURCES["alertmanager"].parse(body, {}, SourceOptions(services={})).alerts
            with engine.begin() as conn:
                outcome = ingest(
                    conn, [Submission("alertmanager", alerts, body)], T + after, policy
                )
            decided += outcome.submissions[0].alerts
    finally:
        engine.dispose()
    return decided


def flips(name: str) -> list[tuple[bytes, timedelta]]:
    """Fires, resolves after 1m, fires again after 3m."""
    fire, resolve = am_payload(name), am_payload(name, status="resolved")
    return [(fire, timedelta(0)), (resolve, timedelta(minutes=1)), (fire, timedelta(minutes=3))]


def test_group_by_reaches_ingest(database_url: str) -> None:
    def two(prefix: str) -> list[tuple[bytes, timedelta]]:
        return [
            (am_payload(prefix + "Disk"), timedelta(0)),
            (am_payload(prefix + "Cpu"), timedelta(0)),
        ]

    apart = run(database_url, "{group_by: [service, alertname]}", two("a"))
    assert apart[0].incident_id != apart[1].incident_id
    together = run(database_url, "{group_by: [service]}", two("b"))
    assert together[0].incident_id == together[1].incident_id


def test_reopen_window_decides_reopen_or_new_episode(database_url: str) -> None:
    assert run(database_url, "{reopen_window: 5m}", flips("A"))[-1].kind is DecisionKind.REOPEN
    assert run(database_url, "{reopen_window: 1m}", flips("B"))[-1].kind is DecisionKind.NEW


def test_flap_flips_decides_when_an_alert_is_flapping(database_url: str) -> None:
    early = run(database_url, "{flap_flips: 2}", flips("A"))[-1].fingerprint
    later = run(database_url, "{flap_flips: 3}", flips("B"))[-1].fingerprint
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            flagged = dict(conn.execute(select(ALERT.c.fingerprint, ALERT.c.flapping)).all())
    finally:
        engine.dispose()
    assert (bool(flagged[early]), bool(flagged[later])) == (True, False)
