"""A recurring silence is reminded of before each window ends, end to end on SQLite and
PostgreSQL: the paging worker queues and delivers to a fake Slack API and an apprise
json:// sink on loopback, once per window and channel."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from routing.muting import silence_store
from routing.muting.silence import Recurrence, Silence
from tests.bot.chat.test_slack import FakeSlack
from tests.bot.workers.test_silence_reminder_worker import (
    MATCHERS,
    reminder_world,
    rows_of,
    world_data,
)
from tests.support.loopback_http import Reply, start
from tests.support.paging import T0, Clock


@pytest.fixture
def fake_slack() -> Any:
    fake = FakeSlack()
    yield fake
    fake.server.close()


def test_each_window_of_a_recurring_silence_is_reminded_of(
    database_url: str, fake_slack: FakeSlack
) -> None:
    async def go() -> None:
        clock = Clock(T0)  # Monday 10:00 UTC
        with start(lambda _: Reply.json({})) as sink:
            data = world_data(database_url, fake_slack.base_url + "/api/", sink)
            async with reminder_world(data, clock) as (world, worker):
                with world.rt.engine.begin() as conn:
                    silence = silence_store.create(
                        conn,
                        Silence.model_validate(
                            {
                                "matchers": MATCHERS,
                                "created_by": "alice",
                                "comment": "weekly batch",
                                # No end: it recurs until someone ends it.
                                "recurrence": Recurrence(
                                    weekdays=["monday"], times=["09:00-10:10"]
                                ),
                            }
                        ),
                        T0 - timedelta(days=3),
                    )
                first = await worker.run_once(T0)
                assert first.reminders == 2  # the team's two channels
                (posted,) = fake_slack.calls("/api/chat.postMessage")
                text = posted["text"]
                assert text.startswith('Silence ending in 10 min: service="api"')
                assert "ends at 2026-05-04 10:10 UTC (in 10 min)" in text
                assert "It recurs every monday 09:00-10:10 (UTC)" in text
                assert len(sink.requests) == 1

                for later in (timedelta(minutes=5), timedelta(days=1), timedelta(days=6)):
                    again = await worker.run_once(T0 + later)
                    assert (again.reminders, again.delivered) == (0, [])

                next_week = await worker.run_once(T0 + timedelta(days=7))
                assert next_week.reminders == 2  # the next window's end, once more
                assert len(fake_slack.calls("/api/chat.postMessage")) == 2
                assert "ends at 2026-05-11 10:10 UTC" in sink.requests[1].json()["message"]
                rows = rows_of(world, silence)
                assert [r["status"] for r in rows] == ["sent"] * 4
                assert len({r["dedup_key"] for r in rows}) == 4

    asyncio.run(go())
