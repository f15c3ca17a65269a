"""A silence made by matchers drops the pages already queued on the incidents it mutes
entirely (pending, or held for a pager-storm bundle), on SQLite and PostgreSQL: through
the REST API and chat; not for an incident with an open alert it does not match, and not
while a weekly silence's window is closed."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from bot.workers.paging_worker import install_paging
from integrations.notifiers import TextMessage
from routing.paging.escalation_steps import run_due_escalations
from routing.paging.outbox import NOTIFICATION, notifications_of
from routing.response import incidents
from tests.bot.commands.test_execute import call
from tests.bot.workers.test_bundling_worker import (
    TextRecorder,
    app,
    bundles,
    config,
    run,
    storm,
    to,
)
from tests.support.chat_harness import NOW, ChatWorld, alert, settings_data
from tests.support.paging import Clock


def test_an_api_silence_drops_the_held_page_of_the_incident_it_mutes(database_url: str) -> None:
    clock, notifier = Clock(), TextRecorder()
    with app(config(database_url, "{max_pages: 1, window: 10s}"), clock, notifier) as (
        client,
        worker,
    ):
        storm(client, 4)  # incidents 1-4 (Storm00-03): 1 paged at once, 2-4 held
        run(client, worker, clock)
        answer = client.post(
            "/api/v1/silences",
            json={"matchers": ['alertname="Storm02"'], "duration": "1h", "comment": "known"},
        )
        assert answer.status_code == 201, answer.text
        silence_id = answer.json()["id"]
        clock.advance(seconds=10)
        run(client, worker, clock)
        assert bundles(to(notifier, "alice")) == ["[CRITICAL] 2 incidents paged together"]
        [bundle] = [m for m in to(notifier, "alice") if isinstance(m, TextMessage)]
        assert "#2 " in bundle.text and "#4 " in bundle.text and "#3 " not in bundle.text

        rt = client.app.state.runtime  # type: ignore[attr-defined]
        with rt.engine.connect() as conn:
            dropped = conn.execute(
                select(NOTIFICATION.c.status, NOTIFICATION.c.detail).where(
                    NOTIFICATION.c.incident_id == 3
                )
            ).all()
            timeline = incidents.get_incident(conn, 3)["timeline"]
        creator = answer.json()["created_by"]
        assert {row.status for row in dropped} == {"cancelled"} and len(dropped) == 3
        assert {row.detail for row in dropped} == {f"not sent: silenced by {creator}"}
        [entry] = [e for e in timeline if e["kind"] == "silenced"]
        assert entry["message"] == (
            f"{creator}'s silence {silence_id} mutes every open alert: 3 pages not sent"
        )


def chat_config(database_url: str) -> dict[str, Any]:
    return settings_data(
        database_url,
        escalation_policies=[
            {"name": "default", "steps": [{"notify": ["schedule:primary"], "wait": "10m"}]}
        ],
        route={"receiver": {"escalation": "default"}},
    )


def with_pending_pages(database_url: str, body: Any) -> None:
    """A chat world whose pages stay pending (no deliverer runs), step 1 run at NOW."""

    async def go() -> None:
        def no_deliveries(app: Any, rt: Any) -> None:
            install_paging(rt, background=False)

        async with ChatWorld.open(chat_config(database_url), install=no_deliveries) as world:
            await body(world)

    asyncio.run(go())


def statuses(world: ChatWorld, incident_id: int) -> set[str]:
    with world.rt.engine.connect() as conn:
        return {row["status"] for row in notifications_of(conn, incident_id)}


def due_steps(world: ChatWorld) -> None:
    with world.rt.engine.begin() as conn:
        run_due_escalations(conn, world.rt.settings, NOW)


def test_a_chat_silence_by_matchers_names_the_incidents_it_quieted(database_url: str) -> None:
    async def body(world: ChatWorld) -> None:
        api = await world.incident("HighErrorRate", "api")
        db = await world.incident("DiskFull", "db")
        due_steps(world)
        assert statuses(world, api) == statuses(world, db) == {"pending"}

        reply = await call(world, "silence service=api 1h deploy")
        assert reply.text.endswith(f"; pages not sent on #{api}"), reply.text
        assert statuses(world, api) == {"cancelled"}
        assert statuses(world, db) == {"pending"}  # not matched: still pages

    with_pending_pages(database_url, body)


def test_an_incident_with_an_unmatched_open_alert_keeps_its_pages(database_url: str) -> None:
    async def body(world: ChatWorld) -> None:
        (iid,) = await world.submit(alert("HighErrorRate", "api", instance="node-1"))
        (same,) = await world.submit(alert("HighErrorRate", "api", instance="node-2"))
        assert same == iid  # one incident, two open alerts
        due_steps(world)

        reply = await call(world, "silence instance=node-1 1h")
        assert "pages not sent" not in reply.text
        assert statuses(world, iid) == {"pending"}  # node-2 still fires

        reply = await call(world, "silence service=api 1h")
        assert reply.text.endswith(f"; pages not sent on #{iid}")
        assert statuses(world, iid) == {"cancelled"}

    with_pending_pages(database_url, body)


def test_a_weekly_silence_whose_window_is_closed_drops_nothing(database_url: str) -> None:
    async def body(world: ChatWorld) -> None:
        iid = await world.incident("HighErrorRate", "api")
        due_steps(world)
        # NOW is a Monday 10:00 UTC: Wednesday's window is not open.
        reply = await call(world, "silence service=api every:wed/02:00-04:00")
        assert "next window" in reply.text and "pages not sent" not in reply.text
        assert statuses(world, iid) == {"pending"}

    with_pending_pages(database_url, body)
