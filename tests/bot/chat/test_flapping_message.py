"""A flapping alert in Slack, on SQLite and PostgreSQL: Alertmanager webhooks in, the
incident's Slack message (posted by the paging outbox to a fake Slack API) says the alert
is flapping, and a reopen while it flaps is a thread reply saying so, not a new post."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from bot.workers.paging_worker import PagingWorker, install_paging
from tests.bot.chat.test_slack import FakeSlack
from tests.bot.chat.test_slack_loop import AM_PAYLOAD
from tests.support.chat_harness import NOW, ChatWorld, settings_data, slack_section
from tests.support.paging import Clock

FLAPPING = "[flapping: its reopens are recorded, not paged]"


def payload(status: str) -> dict[str, Any]:
    body = copy.deepcopy(AM_PAYLOAD)
    body["status"] = body["alerts"][0]["status"] = status
    return body


def test_the_slack_message_says_the_alert_is_flapping(database_url: str) -> None:
    fake = FakeSlack()
    data = settings_data(
        database_url,
        slack=slack_section(fake.base_url + "/api/"),
        escalation_policies=[{"name": "ops", "steps": [{"notify": ["team:ops"]}]}],
        route={"receiver": {"escalation": "ops"}},
        grouping={"reopen_window": "1h", "flap_flips": 3, "flap_quiet": "30m"},
    )
    workers: list[PagingWorker] = []

    def install(app: Any, rt: Any) -> None:
        workers.append(install_paging(rt, background=False))

    async def go() -> None:
        clock = Clock(NOW)
        async with ChatWorld.open(data, clock=clock, install=install) as world:
            (worker,) = workers

            async def send(status: str) -> None:
                clock.advance(minutes=1)
                response = await world.http.post("/webhooks/alertmanager", json=payload(status))
                assert response.status_code == 202, response.text
                await world.settle()
                await worker.run_once(clock.now)
                await world.settle()

            await send("firing")
            for _ in range(2):  # the second reopen flags it: that post says so
                await send("resolved")
                await send("firing")
            posts = [c for c in fake.calls("/api/chat.postMessage") if "thread_ts" not in c]
            assert len(posts) == 3
            assert FLAPPING not in posts[1]["text"]
            assert FLAPPING in posts[2]["text"]

            await send("resolved")
            await send("firing")  # flapping: recorded and shown, nobody paged
            posts = [c for c in fake.calls("/api/chat.postMessage") if "thread_ts" not in c]
            assert len(posts) == 3
            replies = [c["text"] for c in fake.calls("/api/chat.postMessage") if "thread_ts" in c]
            assert replies[-1].endswith("(flapping: not paged again)")
            assert FLAPPING in fake.calls("/api/chat.update")[-1]["text"]

    asyncio.run(go())
    fake.server.close()
