"""Silence reminders end to end on SQLite and PostgreSQL: a silence nears its end, the paging
worker queues one outbox row per team channel and delivers it to a fake Slack API and an
apprise json:// sink on loopback; again and from a second replica, nothing more."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest

from bot.workers.paging_worker import PagingWorker, install_paging
from integrations.notifiers import DeliveryResult
from routing.muting import silence_store
from routing.muting.silence import Silence
from routing.paging import silence_reminder_store
from routing.paging.outbox import claim_due
from routing.paging.silence_reminder_store import queue_reminders, reminders_of
from tests.bot.chat.test_slack import FakeSlack
from tests.support.chat_harness import ChatWorld, slack_section
from tests.support.loopback_http import LoopbackServer, Reply, start
from tests.support.paging import T0, Clock

MATCHERS = ['service="api"', 'alertname=~"High.*"']


def world_data(
    database_url: str, slack_api: str, sink: LoopbackServer, **extra: Any
) -> dict[str, Any]:
    host = sink.base_url.removeprefix("http://")
    return {
        "database_url": database_url,
        "users": [{"name": "alice", "slack_id": "U0ALICE"}, {"name": "bob"}],
        "teams": [
            {
                "name": "backend",
                "members": ["alice"],
                "channels": ["slack:#backend", f"json://{host}/backend"],
            }
        ],
        "slack": slack_section(slack_api),
        **extra,
    }


@asynccontextmanager
async def reminder_world(
    data: dict[str, Any], clock: Clock, **worker: Any
) -> AsyncIterator[tuple[ChatWorld, PagingWorker]]:
    installed: list[PagingWorker] = []

    def install(app: Any, rt: Any) -> None:
        installed.append(install_paging(rt, background=False, **worker))

    async with ChatWorld.open(data, clock=clock, install=install) as world:
        yield world, installed[-1]


def add_silence(
    world: ChatWorld, by: str = "alice", ends_in: timedelta = timedelta(minutes=10), **extra: Any
) -> Silence:
    made = T0 + ends_in - timedelta(hours=1)
    with world.rt.engine.begin() as conn:
        return silence_store.create(
            conn,
            Silence(
                matchers=MATCHERS,
                starts_at=made,
                ends_at=T0 + ends_in,
                created_by=by,
                comment="deploy v2",
                **extra,
            ),
            made,
        )


def rows_of(world: ChatWorld, silence: Silence) -> list[dict[str, Any]]:
    with world.rt.engine.connect() as conn:
        return reminders_of(conn, silence.id or "")


@pytest.fixture
def fake_slack() -> Any:
    fake = FakeSlack()
    yield fake
    fake.server.close()


def test_one_reminder_per_team_channel_then_none(database_url: str, fake_slack: FakeSlack) -> None:
    async def go() -> None:
        clock = Clock(T0)
        with start(lambda _: Reply.json({})) as sink:
            data = world_data(database_url, fake_slack.base_url + "/api/", sink)
            async with reminder_world(data, clock) as (world, worker):
                silence = add_silence(world)
                first = await worker.run_once(T0)
                assert first.reminders == 2
                assert sorted(outcome for _, outcome in first.delivered) == ["sent", "sent"]

                (posted,) = fake_slack.calls("/api/chat.postMessage")
                assert posted["channel"] == "#backend"
                assert posted["mrkdwn"] is False  # literal text: matchers hold * and _
                text = posted["text"]
                assert text.startswith('Silence ending in 10 min: service="api"')
                assert f"Silence {silence.id} (" in text and "by alice" in text
                assert "ends at 2026-05-04 10:10 UTC (in 10 min)" in text
                assert "Comment: deploy v2" in text
                assert f"/incident unsilence {silence.id}" in text
                assert "/incident silence service=" in text

                (mailed,) = sink.requests
                assert mailed.path == "/backend"
                body = mailed.json()
                assert body["type"] == "warning"
                assert body["title"].startswith("Silence ending in 10 min")
                assert f"firebell incident unsilence {silence.id}" in body["message"]

                rows = rows_of(world, silence)
                assert [(r["status"], r["kind"], r["recipient"]) for r in rows] == [
                    ("sent", "silence_reminder", "backend")
                ] * 2
                assert {r["incident_id"] for r in rows} == {None}
                assert all(r["via"] == "team backend" for r in rows)

                for minutes in (1, 5, 9):
                    again = await worker.run_once(T0 + timedelta(minutes=minutes))
                    assert (again.reminders, again.delivered) == (0, [])
                assert len(fake_slack.calls("/api/chat.postMessage")) == 1
                assert len(sink.requests) == 1
                metrics = (await world.http.get("/metrics")).text
                assert 'firebell_notifications_total{kind="slack",outcome="sent"} 1.0' in metrics

    asyncio.run(go())


def test_made_through_the_api_reminded_at_the_lead_time(
    database_url: str, fake_slack: FakeSlack
) -> None:
    async def go() -> None:
        clock = Clock(T0)
        with start(lambda _: Reply.json({})) as sink:
            # alice's own token: the silence is hers, so her team's channels hear of it.
            tokens = [{"token": "alice-api-token", "user": "alice"}]
            data = world_data(database_url, fake_slack.base_url + "/api/", sink, api_tokens=tokens)
            async with reminder_world(data, clock) as (world, worker):
                response = await world.http.post(
                    "/api/v1/silences",
                    json={"matchers": MATCHERS, "duration": "1h"},
                    headers={"Authorization": "Bearer alice-api-token"},
                )
                assert response.status_code == 201, response.text
                ident = response.json()["id"]
                assert (
                    await worker.run_once(T0 + timedelta(minutes=44, seconds=59))
                ).reminders == 0
                assert (await worker.run_once(T0 + timedelta(minutes=45))).reminders == 2
                (posted,) = fake_slack.calls("/api/chat.postMessage")
                assert ident in posted["text"] and "(in 15 min)" in posted["text"]
                # After its end: nothing more, and nothing for an ended silence.
                assert (await worker.run_once(T0 + timedelta(hours=2))).reminders == 0

    asyncio.run(go())


def test_ended_before_delivery_the_reminder_is_cancelled(
    database_url: str, fake_slack: FakeSlack
) -> None:
    """Slack down: the reminder waits for its retry; the silence is ended meanwhile, so
    the retry is dropped rather than announcing an end that already happened."""

    async def go() -> None:
        clock = Clock(T0)
        with start(lambda _: Reply.text("down", 503)) as sink:
            data = world_data(database_url, sink.base_url + "/api/", sink)
            async with reminder_world(data, clock) as (world, worker):
                early = add_silence(world)
                late = add_silence(world, ends_in=timedelta(minutes=14))
                first = await worker.run_once(T0)
                assert [o for _, o in first.delivered] == ["retry"] * 4
                with world.rt.engine.begin() as conn:
                    silence_store.expire(conn, early.id or "", "bob", T0 + timedelta(seconds=1))
                await worker.run_once(T0 + timedelta(minutes=13))  # `late` not over yet
                clock.now = T0 + timedelta(minutes=15)
                await worker.run_once(clock.now)  # `late` ended at 10:14
                details = {r["detail"] for r in rows_of(world, early)}
                assert details == {"not sent: silence ended early before the reminder went out"}
                assert {r["status"] for r in rows_of(world, late)} == {"cancelled"}
                assert {r["detail"] for r in rows_of(world, late)} == {
                    "not sent: silence ended before the reminder went out"
                }

    asyncio.run(go())


def test_a_permanent_failure_is_kept_and_logged(
    database_url: str, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    class Refusing:
        kind = "json"

        async def send(self, target: str, notification: Any) -> DeliveryResult:
            raise AssertionError("a reminder is not an incident notification")

        async def send_text(self, target: str, message: Any) -> DeliveryResult:
            return DeliveryResult.permanent("HTTP 404 unknown topic")

    async def go() -> None:
        clock = Clock(T0)
        with start(lambda _: Reply.json({})) as sink:
            data = world_data(database_url, fake_slack.base_url + "/api/", sink)
            secret_url = data["teams"][0]["channels"][1] + "?token=s3cret"
            data["teams"][0]["channels"] = [secret_url]  # an apprise URL holding a secret
            async with reminder_world(data, clock, notifiers={"json": Refusing()}) as (
                world,
                worker,
            ):
                silence = add_silence(world)
                with caplog.at_level(logging.ERROR, "firebell.paging"):
                    summary = await worker.run_once(T0)
                assert [o for _, o in summary.delivered] == ["failed"]
                (row,) = rows_of(world, silence)
                assert (row["status"], row["detail"]) == ("failed", "HTTP 404 unknown topic")
                assert f"for silence {silence.id} to backend failed after 1 attempt" in caplog.text
                assert "s3cret" not in caplog.text and sink.base_url not in caplog.text

    asyncio.run(go())


def test_a_notifier_without_plain_text_fails_visibly(
    database_url: str, fake_slack: FakeSlack
) -> None:
    class PagesOnly:
        kind = "json"

        async def send(self, target: str, notification: Any) -> DeliveryResult:
            return DeliveryResult.delivered("ok")

    async def go() -> None:
        with start(lambda _: Reply.json({})) as sink:
            data = world_data(database_url, fake_slack.base_url + "/api/", sink)
            data["teams"][0]["channels"] = [data["teams"][0]["channels"][1]]
            async with reminder_world(data, Clock(T0), notifiers={"json": PagesOnly()}) as (
                world,
                worker,
            ):
                silence = add_silence(world)
                await worker.run_once(T0)
                (row,) = rows_of(world, silence)
                assert (row["status"], row["detail"]) == (
                    "failed",
                    "json notifier cannot send plain messages",
                )

    asyncio.run(go())


def test_no_channel_anywhere_is_logged_once(
    database_url: str, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    async def go() -> None:
        with start(lambda _: Reply.json({})) as sink:
            data = world_data(database_url, fake_slack.base_url + "/api/", sink)
            async with reminder_world(data, Clock(T0)) as (world, worker):
                silence = add_silence(world, by="token:ci-deployer")
                with caplog.at_level(logging.WARNING, "firebell.paging"):
                    for minutes in (0, 1, 2):
                        summary = await worker.run_once(T0 + timedelta(minutes=minutes))
                        assert (summary.reminders, summary.delivered) == (0, [])
                lines = [r.getMessage() for r in caplog.records if "no channel" in r.getMessage()]
                assert len(lines) == 1
                assert silence.id in lines[0] and "token:ci-deployer" in lines[0]
                assert rows_of(world, silence) == []
                assert fake_slack.calls("/api/chat.postMessage") == [] and sink.requests == []

    asyncio.run(go())


def test_unknown_creator_reminded_in_the_root_route_channels(
    database_url: str, fake_slack: FakeSlack
) -> None:
    async def go() -> None:
        with start(lambda _: Reply.json({})) as sink:
            data = world_data(
                database_url,
                fake_slack.base_url + "/api/",
                sink,
                route={"receiver": {"channels": ["slack:#alerts"]}},
            )
            async with reminder_world(data, Clock(T0)) as (world, worker):
                silence = add_silence(world, by="bob")  # a user, but in no team
                assert (await worker.run_once(T0)).reminders == 1
                (posted,) = fake_slack.calls("/api/chat.postMessage")
                assert posted["channel"] == "#alerts" and "by bob" in posted["text"]
                (row,) = rows_of(world, silence)
                assert row["via"] == "route root (bob is in no team with channels)"

    asyncio.run(go())


def test_two_replicas_remind_exactly_once(database_url: str, fake_slack: FakeSlack) -> None:
    """Two apps (two engines, two workers) on one database run their passes at the same
    instant, repeatedly: every silence's channel hears exactly once."""
    count = 12

    async def go() -> None:
        with start(lambda _: Reply.json({})) as sink:
            data = world_data(database_url, fake_slack.base_url + "/api/", sink)
            async with AsyncExitStack() as stack:
                one, w1 = await stack.enter_async_context(reminder_world(data, Clock(T0)))
                _, w2 = await stack.enter_async_context(reminder_world(data, Clock(T0)))
                made = [
                    add_silence(one, ends_in=timedelta(minutes=1 + n % 10)) for n in range(count)
                ]
                summaries = []
                for seconds in (0, 0, 1, 2, 30):
                    at = T0 + timedelta(seconds=seconds)
                    summaries += await asyncio.gather(w1.run_once(at), w2.run_once(at))
                assert sum(s.reminders for s in summaries) == 2 * count
                sent = [o for s in summaries for _, o in s.delivered]
                assert sent == ["sent"] * (2 * count)
                texts = [p["text"] for p in fake_slack.calls("/api/chat.postMessage")]
                assert len(texts) == count
                assert {next(s.id for s in made if s.id in t) for t in texts} == {
                    s.id for s in made
                }
                assert len(sink.requests) == count

    asyncio.run(go())


def test_a_racing_insert_is_a_no_op(
    database_url: str, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second queuer's read of the keys came before the first one's commit: its
    insert meets the unique key and queues nothing."""

    async def go() -> None:
        with start(lambda _: Reply.json({})) as sink:
            data = world_data(database_url, fake_slack.base_url + "/api/", sink)
            async with reminder_world(data, Clock(T0)) as (world, _):
                silence = add_silence(world)
                engine, settings = world.rt.engine, world.rt.settings
                with engine.begin() as conn:
                    assert len(queue_reminders(conn, settings, T0).reminders) == 2
                # The racer's read of the keys saw none of ours (it ran before our commit).
                monkeypatch.setattr(silence_reminder_store, "_existing_keys", lambda c, k: set())
                with engine.begin() as conn:
                    assert queue_reminders(conn, settings, T0).reminders == ()
                assert len(rows_of(world, silence)) == 2
                with engine.begin() as conn:
                    assert len(claim_due(conn, T0, "w1")) == 2

    asyncio.run(go())
