"""A run's progress: ONE reply in each incident thread (Slack chat.postMessage with
thread_ts, Discord POST with message_reference), then edited in place (chat.update with
the same ts, PATCH of the same message) as steps change; and chat.post's poster."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, update

from bot.chat import playbook_progress
from bot.chat.playbook_progress import progress_text, step_phrase
from playbooks import run_store
from playbooks.model import Playbook, PlaybookFile
from routing.paging.outbox import NOTIFICATION
from routing.storage.playbook_tables import PlaybookRunRow, PlaybookStepRow
from tests.bot.chat.playbook_world import (
    DISCORD_PARENT,
    SLACK_PARENT,
    FakeApis,
)
from tests.support.chat_harness import (
    NOW,
    ChatWorld,
    discord_section,
    settings_data,
    slack_section,
    store_message,
)

RUN = PlaybookRunRow.metadata.tables["playbook_run"]
STEP = PlaybookStepRow.metadata.tables["playbook_step"]
SPEC = PlaybookFile.model_validate(
    {
        "id": "api-5xx",
        "steps": [
            {"id": "loki", "uses": "logs.loki"},
            {"id": "es", "uses": "logs.elasticsearch"},
            {"id": "file", "uses": "logs.file"},
            {"id": "report", "uses": "chat.post"},
        ],
    }
)
PLAYBOOK = Playbook(SPEC, Path("api-5xx.yaml"), "0" * 64, ())
HEAD = "Playbook api-5xx (run #1, started by alice)"
EXCERPT = "2026-03-02T09:59:01Z {app=api} error: upstream timed out"


def run_in_world(database_url: str, body: Any) -> None:
    apis = FakeApis()
    data = settings_data(
        database_url,
        slack=slack_section(apis.base_url + "/slack/api/"),
        discord=discord_section(apis.base_url + "/discord", "00" * 32),
    )

    async def go() -> None:
        async with ChatWorld.open(data) as world:
            await body(world, apis)

    try:
        asyncio.run(go())
    finally:
        apis.server.close()


def new_run(world: ChatWorld, incident_id: int) -> int:
    with world.rt.engine.begin() as conn:
        run_id = run_store.create_run(
            conn,
            incident_id=incident_id,
            playbook=PLAYBOOK,
            params={},
            started_by="alice",
            trigger="manual",
            now=NOW,
        )
        assert run_id is not None
        # Not due: the worker must leave this hand-driven run alone.
        conn.execute(update(RUN).where(RUN.c.id == run_id).values(due_at=NOW + timedelta(days=1)))
    return run_id


def set_step(world: ChatWorld, run_id: int, step_id: str, **values: Any) -> None:
    with world.rt.engine.begin() as conn:
        conn.execute(
            update(STEP).where(STEP.c.run_id == run_id, STEP.c.step_id == step_id).values(**values)
        )


def stored_refs(world: ChatWorld, run_id: int) -> dict[str, str]:
    with world.rt.engine.connect() as conn:
        run = run_store.get_run(conn, run_id)
    assert run is not None
    return dict(run["chat_refs"])


def test_progress_is_posted_once_then_edited_in_place(database_url: str) -> None:
    async def body(world: ChatWorld, apis: FakeApis) -> None:
        iid = await world.incident()
        store_message(world, iid, "slack:#ops", SLACK_PARENT)
        store_message(world, iid, "discord:2001", DISCORD_PARENT)
        run_id = new_run(world, iid)
        progress = world.chat.progress

        # The runner calls the hook from its own thread.
        await asyncio.to_thread(progress.run_changed, run_id)
        await world.settle()
        (slack_reply,) = apis.calls("POST", "/slack/api/chat.postMessage")
        assert slack_reply == {
            "channel": "C0OPS",
            "thread_ts": "1700000000.000007",
            "text": f"{HEAD}: starting",
        }
        (discord_reply,) = apis.calls("POST", "/discord/channels/2001/messages")
        assert discord_reply == {
            "content": f"{HEAD}: starting",
            "message_reference": {"message_id": "3001", "fail_if_not_exists": False},
            "allowed_mentions": {"parse": []},
        }
        refs = stored_refs(world, run_id)
        slack_ts = refs[f"slack:{SLACK_PARENT}"].partition(":")[2]
        discord_id = refs[f"discord:{DISCORD_PARENT}"].partition(":")[2]
        assert refs == {
            f"slack:{SLACK_PARENT}": f"C0OPS:{slack_ts}",
            f"discord:{DISCORD_PARENT}": f"2001:{discord_id}",
        }

        set_step(world, run_id, "loki", status="succeeded", summary="200 lines", excerpt=EXCERPT)
        set_step(world, run_id, "es", status="failed", summary="failed", error="HTTP 401")
        set_step(world, run_id, "file", status="running")
        # Two changes at once still edit each reply once: the second finds nothing new.
        progress.run_changed(run_id)
        progress.run_changed(run_id)
        await world.settle()
        expected = (
            f"{HEAD}: loki ✓ 200 lines · es ✗ HTTP 401 · file … running\nloki:\n```\n{EXCERPT}\n```"
        )
        (slack_edit,) = apis.calls("POST", "/slack/api/chat.update")
        assert slack_edit == {"channel": "C0OPS", "ts": slack_ts, "text": expected}
        (discord_edit,) = apis.calls("PATCH", f"/discord/channels/2001/messages/{discord_id}")
        assert discord_edit == {"content": expected, "allowed_mentions": {"parse": []}}

        set_step(world, run_id, "file", status="skipped")
        set_step(world, run_id, "report", status="succeeded", summary="posted to slack")
        with world.rt.engine.begin() as conn:
            conn.execute(update(RUN).where(RUN.c.id == run_id).values(status="succeeded"))
        progress.run_changed(run_id)
        await world.settle()
        last = apis.calls("POST", "/slack/api/chat.update")[-1]
        assert last["ts"] == slack_ts
        assert last["text"].startswith(
            f"{HEAD}: loki ✓ 200 lines · es ✗ HTTP 401 · file skipped · "
            "report ✓ posted to slack — succeeded\n"
        )
        # Still one reply per thread: everything after the first was an edit.
        assert len(apis.calls("POST", "/slack/api/chat.postMessage")) == 1
        assert len(apis.calls("POST", "/discord/channels/2001/messages")) == 1
        assert len(apis.calls("PATCH", f"/discord/channels/2001/messages/{discord_id}")) == 2

    run_in_world(database_url, body)


def test_without_chat_a_run_change_reads_nothing(database_url: str) -> None:
    async def body(world: ChatWorld) -> None:
        run_id = new_run(world, await world.incident())
        statements: list[str] = []
        engine = world.rt.engine
        event.listen(engine, "before_cursor_execute", _record(statements))
        await asyncio.to_thread(world.chat.progress.run_changed, run_id)
        world.chat.progress.run_changed(run_id)
        await world.chat.background.drain()
        assert [s for s in statements if "playbook_run" in s] == []

    async def go() -> None:
        async with ChatWorld.open(settings_data(database_url)) as world:
            await body(world)

    asyncio.run(go())


def _record(statements: list[str]) -> Any:
    def before(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        statements.append(statement)

    return before


def test_a_deleted_progress_reply_is_posted_again(database_url: str) -> None:
    async def body(world: ChatWorld, apis: FakeApis) -> None:
        iid = await world.incident()
        store_message(world, iid, "discord:2001", DISCORD_PARENT)
        run_id = new_run(world, iid)
        world.chat.progress.run_changed(run_id)
        await world.settle()
        first = stored_refs(world, run_id)[f"discord:{DISCORD_PARENT}"]
        apis.deleted.add(first.partition(":")[2])
        set_step(world, run_id, "loki", status="running")
        world.chat.progress.run_changed(run_id)
        await world.settle()
        again = stored_refs(world, run_id)[f"discord:{DISCORD_PARENT}"]
        assert again != first
        posts = apis.calls("POST", "/discord/channels/2001/messages")
        assert [p["content"] for p in posts] == [f"{HEAD}: starting", f"{HEAD}: loki … running"]

    run_in_world(database_url, body)


def test_a_run_that_changes_before_the_incident_message_is_posted_shows_up_later(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(playbook_progress, "LOOK_AGAIN", (0.05, 0.05, 0.05))

    async def body(world: ChatWorld, apis: FakeApis) -> None:
        iid = await world.incident()
        run_id = new_run(world, iid)
        world.chat.progress.run_changed(run_id)
        await world.settle()
        assert apis.calls("POST", "/slack/api/chat.postMessage") == []
        store_message(world, iid, "slack:#ops", SLACK_PARENT)  # the outbox catches up
        for _ in range(200):
            if stored_refs(world, run_id):
                break
            await asyncio.sleep(0.02)
            await world.settle()
        (reply,) = apis.calls("POST", "/slack/api/chat.postMessage")
        assert reply["thread_ts"] == "1700000000.000007"

    run_in_world(database_url, body)


def test_post_chat_replies_in_every_thread_or_says_there_is_none(database_url: str) -> None:
    async def body(world: ChatWorld, apis: FakeApis) -> None:
        iid = await world.incident()
        store_message(world, iid, "slack:#ops", SLACK_PARENT)
        store_message(world, iid, "discord:2001", DISCORD_PARENT)
        post_chat = world.rt.extras["playbook_post_chat"]
        assert await post_chat(iid, "3 errors in the last 30m") == "slack, discord"
        (slack,) = apis.calls("POST", "/slack/api/chat.postMessage")
        assert slack == {
            "channel": "C0OPS",
            "thread_ts": "1700000000.000007",
            "text": "3 errors in the last 30m",
        }
        (discord,) = apis.calls("POST", "/discord/channels/2001/messages")
        assert discord["content"] == "3 errors in the last 30m"
        assert discord["message_reference"]["message_id"] == "3001"

        other = await world.incident("DiskFull", "db")
        with pytest.raises(RuntimeError, match=f"no chat message was posted for incident #{other}"):
            await post_chat(other, "hello")

        # From another thread and loop (a runner elsewhere): it still posts on the chat loop.
        def elsewhere() -> str:
            result: str = asyncio.run(post_chat(iid, "from elsewhere"))
            return result

        assert await asyncio.to_thread(elsewhere) == "slack, discord"

    run_in_world(database_url, body)


def test_post_chat_waits_for_the_incident_message_the_outbox_has_yet_to_post(
    database_url: str,
) -> None:
    """An on_open run's chat.post can come before the outbox posted the incident: it
    waits for that message (the step's timeout bounds the wait) instead of failing."""

    async def body(world: ChatWorld, apis: FakeApis) -> None:
        iid = await world.incident()
        store_message(world, iid, "slack:#ops", SLACK_PARENT)
        later = NOW + timedelta(days=1)  # queued, not due: only this test "posts" it
        with world.rt.engine.begin() as conn:
            conn.execute(
                update(NOTIFICATION)
                .where(NOTIFICATION.c.incident_id == iid)
                .values(status="pending", message_ref=None, sent_at=None, next_attempt_at=later)
            )
        posting = asyncio.create_task(world.rt.extras["playbook_post_chat"](iid, "hello"))
        await asyncio.sleep(3 * playbook_progress.POST_WAIT)
        assert not posting.done() and apis.calls("POST", "/slack/api/chat.postMessage") == []
        with world.rt.engine.begin() as conn:
            conn.execute(
                update(NOTIFICATION)
                .where(NOTIFICATION.c.incident_id == iid)
                .values(status="sent", message_ref=SLACK_PARENT, sent_at=NOW)
            )
        assert await asyncio.wait_for(posting, 5) == "slack"
        (slack,) = apis.calls("POST", "/slack/api/chat.postMessage")
        assert (slack["thread_ts"], slack["text"]) == ("1700000000.000007", "hello")

    run_in_world(database_url, body)


def test_the_progress_text_names_each_step_state_and_keeps_excerpts_short() -> None:
    steps = [
        {"step_id": "loki", "status": "succeeded", "summary": "200 lines", "excerpt": "a\n" * 50},
        {"step_id": "es", "status": "timed_out", "summary": "", "error": "", "excerpt": ""},
        {"step_id": "sentry", "status": "pending", "summary": "", "excerpt": ""},
    ]
    run = {"id": 7, "playbook": "p", "started_by": "firebell", "status": "failed", "steps": steps}
    text = progress_text(run)
    assert text.startswith(
        "Playbook p (run #7, started by firebell): loki ✓ 200 lines · es ✗ timed out — failed\n"
    )
    assert text.count("a\n") == 5  # the last lines of the excerpt only
    long = [
        {"step_id": f"s{i}", "status": "succeeded", "summary": "", "excerpt": "x" * 300}
        for i in range(20)
    ]
    text = progress_text({**run, "steps": long})
    assert len(text) <= 2000 and text.endswith("(more: firebell playbook logs 7)")
    fenced = progress_text({**run, "steps": [{**steps[0], "excerpt": "```evil"}]})
    assert fenced.endswith("\nloki:\n```\n'''evil\n```")  # a log line cannot end the block
    assert step_phrase({"step_id": "x", "status": "pending"}) is None
