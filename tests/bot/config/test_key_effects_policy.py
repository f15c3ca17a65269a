"""Routing keys whose effect no other test showed: each key of a nested time interval
(`time_intervals: - {name, time_intervals: [...]}`) decides whether a route is muted,
and a route's group_interval and repeat_interval time its channel posts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from bot.config import parse_config
from routing.paging.follow_up import FeedKind
from routing.paging.follow_up_pass import run_follow_ups
from routing.paging.follow_up_store import feeds_of
from routing.paging.policy import PolicyConfig
from routing.storage.database import make_engine
from tests.routing.paging.store_support import CONFIG, WAIT, alert, receive, timeline
from tests.support.paging import T0

# 2026-06-01 is a Monday; Madrid is UTC+2 in summer.
CASES = [
    ("weekdays: [monday]", datetime(2026, 6, 1, 12), datetime(2026, 6, 2, 12)),
    ('times: ["09:00-10:00"]', datetime(2026, 6, 1, 9, 30), datetime(2026, 6, 1, 10, 30)),
    ('days_of_month: ["1:7"]', datetime(2026, 6, 7, 12), datetime(2026, 6, 8, 12)),
    ("months: [june]", datetime(2026, 6, 30, 12), datetime(2026, 7, 1, 12)),
    ('years: ["2026"]', datetime(2026, 12, 31, 12), datetime(2027, 1, 1, 12)),
    # 09:00-10:00 in Madrid is 07:00-08:00 UTC: 09:30 UTC would be inside it in UTC.
    (
        'times: ["09:00-10:00"], location: Europe/Madrid',
        datetime(2026, 6, 1, 7, 30),
        datetime(2026, 6, 1, 9, 30),
    ),
]


@pytest.mark.parametrize(("fields", "inside", "outside"), CASES)
def test_each_key_of_a_nested_time_interval_decides(
    fields: str, inside: datetime, outside: datetime
) -> None:
    settings = parse_config(
        f"""
time_intervals:
  - name: quiet
    time_intervals: [{{{fields}}}]
route:
  receiver: {{channels: ["slack:#ops"]}}
  routes:
    - {{matchers: ['alertname="Disk"'], mute_time_intervals: [quiet]}}
""",
        {},
    )

    def muted(at: datetime) -> bool:
        (match,) = settings.route_alert({"alertname": "Disk"}, at.replace(tzinfo=UTC))
        return match.muted_by_time

    assert (muted(inside), muted(outside)) == (True, False)


def test_a_routes_group_interval_and_repeat_interval_time_its_channel_posts(
    database_url: str,
) -> None:
    """The defaults are 5m and 4h (tests/routing/paging/test_follow_up_store.py); a
    route's own values time the update for joining alerts and the reminder."""
    data = CONFIG.model_dump(mode="json", by_alias=True)
    data["route"] |= {"group_interval": "2m", "repeat_interval": "1h"}
    config = PolicyConfig.model_validate(data)
    engine = make_engine(database_url)
    try:
        receive(engine, [alert(instance="node-1")], T0, config)
        receive(engine, [alert(instance="node-2")], T0 + timedelta(minutes=1), config)
        first_post = T0 + WAIT
        with engine.connect() as conn:
            [feed] = feeds_of(conn, 1)
        assert feed["update_due_at"] == first_post + timedelta(minutes=2)
        update_at = first_post + timedelta(minutes=2)
        assert [kind for _, kind, _ in follow_ups(engine, config, update_at)] == [FeedKind.POST]
        # Reminded 1h after the last post (the update), not 4h.
        reminders = follow_ups(engine, config, update_at + timedelta(hours=1))
        assert [(kind, reason) for _, kind, reason in reminders] == [
            (FeedKind.POST, "channel reminder: still not acknowledged 1h after the last post")
        ]
    finally:
        engine.dispose()


def follow_ups(engine: Engine, config: PolicyConfig, at: datetime) -> list[Any]:
    with engine.begin() as conn:
        return list(run_follow_ups(conn, config, at).feeds)


def test_a_config_silences_id_names_it_where_it_mutes(database_url: str) -> None:
    """Without an id a config silence is config:<place> (test_store_muting.py)."""
    data = CONFIG.model_dump(mode="json", by_alias=True)
    data["silences"] = [
        {
            "id": "weekly-batch",
            "matchers": ['alertname="Noisy"'],
            "recurrence": {"weekdays": ["monday"]},  # T0 is a Monday
            "comment": "the batch job",
        }
    ]
    engine = make_engine(database_url)
    try:
        receive(engine, [alert("Noisy")], T0, PolicyConfig.model_validate(data))
        entries = timeline(engine)
    finally:
        engine.dispose()
    assert ("silenced", "silenced by weekly-batch: the batch job") in entries
