"""Playbooks from Slack, through the real slack-bolt app, the PlaybookService and the
worker: the "Run playbook" button offers the matching playbooks, a signed click runs one
as the linked presser (refused for an unlinked one), `/incident run ... --dry-run`
shows the plan and sends nothing, and the run's progress lands in the incident thread."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bot.chat.context import command_context
from bot.commands import RunPlaybook, execute
from bot.commands.context import Actor
from playbooks import run_store
from routing.storage.tables import TimelineEntry
from tests.bot.chat.playbook_world import (
    LOKI_LINE,
    SLACK_PARENT,
    FakeApis,
    playbook_config,
)
from tests.bot.chat.test_slack import signed
from tests.support.chat_harness import ALICE_SLACK, ChatWorld, store_message

TIMELINE = TimelineEntry.metadata.tables["timeline"]


def in_world(database_url: str, tmp_path: Path, body: Any) -> None:
    apis = FakeApis()
    data = playbook_config(database_url, apis, tmp_path / "playbooks")

    async def go() -> None:
        async with ChatWorld.open(data) as world:
            await body(world, apis)

    try:
        asyncio.run(go())
    finally:
        apis.server.close()


def click(
    apis: FakeApis, action_id: str, incident_id: int, user_id: str = ALICE_SLACK, **container: Any
) -> str:
    """A block_actions payload as Slack sends it for a button press."""
    payload = {
        "type": "block_actions",
        "user": {"id": user_id, "username": "someone", "name": "someone", "team_id": "T111"},
        "api_app_id": "A111",
        "token": "verification_token",
        "container": {
            "type": "message",
            "message_ts": "1700000000.000007",
            "channel_id": "C0OPS",
            "is_ephemeral": False,
            **container,
        },
        "trigger_id": "111.222.valid",
        "team": {"id": "T111", "domain": "workspace-domain"},
        "channel": {"id": "C0OPS", "name": "ops"},
        "response_url": f"{apis.base_url}/respond/actions/T111/1/abc",
        "actions": [
            {
                "action_id": action_id,
                "block_id": "playbook:x",
                "text": {"type": "plain_text", "text": "Run", "emoji": True},
                "value": str(incident_id),
                "type": "button",
                "action_ts": "1700000001.000100",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


def slash(apis: FakeApis, text: str, user_id: str = ALICE_SLACK) -> str:
    return urlencode(
        {
            "team_id": "T111",
            "channel_id": "C0OPS",
            "user_id": user_id,
            "user_name": "alice",
            "command": "/incident",
            "text": text,
            "response_url": f"{apis.base_url}/respond/commands/T111/1/xyz",
            "trigger_id": "111.111.xxx",
        }
    )


async def send(world: ChatWorld, form: str) -> None:
    response = await world.http.post("/slack/events", content=form, headers=signed(form))
    assert response.status_code == 200
    await world.settle()


async def finished_run(world: ChatWorld, run_id: int) -> dict[str, Any]:
    for _ in range(500):
        with world.rt.engine.connect() as conn:
            run = run_store.get_run(conn, run_id)
        if run is not None and run["status"] != "running":
            await world.settle()
            return run
        await asyncio.sleep(0.02)
    raise AssertionError(f"run {run_id} did not finish: {run}")


def test_the_button_offers_matching_playbooks_and_a_click_runs_one(
    database_url: str, tmp_path: Path
) -> None:
    async def body(world: ChatWorld, apis: FakeApis) -> None:
        iid = await world.incident()
        store_message(world, iid, "slack:#ops", SLACK_PARENT)

        await send(world, click(apis, "incident_run_playbook", iid))
        (offer,) = apis.responses()
        assert offer["response_type"] == "ephemeral" and offer["replace_original"] is False
        assert offer["text"] == f"Playbooks for incident #{iid}:\n• api-5xx — Recent API errors"
        section, actions = offer["blocks"]  # db-slow does not match service="api"
        assert section["text"]["text"] == offer["text"]
        assert [(b["action_id"], b["value"]) for b in actions["elements"]] == [
            ("incident_run_playbook:api-5xx", str(iid)),
            ("incident_dry_run_playbook:api-5xx", str(iid)),
        ]

        # Someone not linked to a firebell user may not start it.
        stranger = click(
            apis, "incident_run_playbook:api-5xx", iid, "U0STRANGER", is_ephemeral=True
        )
        await send(world, stranger)
        refused = apis.responses()[-1]
        assert refused["text"].startswith(
            "you are not linked to a firebell user (slack id U0STRANGER)"
        )
        assert refused["replace_original"] is False
        with world.rt.engine.connect() as conn:
            assert run_store.list_runs(conn, iid) == []

        await send(world, click(apis, "incident_run_playbook:api-5xx", iid, is_ephemeral=True))
        started = apis.responses()[-1]
        assert started == {
            "text": f"started playbook api-5xx run #1 for incident #{iid}; progress in the thread",
            "response_type": "ephemeral",
            "replace_original": True,  # the chooser gives way to what happened
        }
        run = await finished_run(world, 1)
        assert (run["started_by"], run["status"], run["trigger"]) == (
            "alice",
            "succeeded",
            "manual",
        )
        assert apis.loki_queries() == 1

        posts = apis.calls("POST", "/slack/api/chat.postMessage")
        assert {p["thread_ts"] for p in posts} == {"1700000000.000007"}
        progress = [p for p in posts if p["text"].startswith("Playbook api-5xx (run #1")]
        assert len(progress) == 1  # one progress message, edited from then on
        reply_ref = run["chat_refs"][f"slack:{SLACK_PARENT}"]
        edits = apis.calls("POST", "/slack/api/chat.update")
        assert edits and {(e["channel"], e["ts"]) for e in edits} == {tuple(reply_ref.split(":"))}
        final = edits[-1]["text"]
        assert final.startswith("Playbook api-5xx (run #1, started by alice): loki ✓")
        assert "— succeeded" in final and LOKI_LINE in final  # the excerpt of the log step
        # chat.post (the report step) went into the same thread as a reply of its own.
        assert len(posts) == 2

    in_world(database_url, tmp_path, body)


def test_slash_run_dry_run_shows_the_plan_and_sends_nothing(
    database_url: str, tmp_path: Path
) -> None:
    async def body(world: ChatWorld, apis: FakeApis) -> None:
        iid = await world.incident()
        await send(world, slash(apis, f"run {iid} api-5xx window=1h --dry-run"))
        (plan,) = apis.responses()
        assert plan["response_type"] == "ephemeral"
        lines = plan["text"].splitlines()
        assert lines[0] == f"Dry-run of api-5xx for incident #{iid} (window=1h): nothing sent"
        assert lines[1].startswith(
            f"1. loki (logs.loki): GET {apis.base_url}/loki/api/v1/query_range?"
        )
        assert "direction=backward" in lines[1]
        assert lines[2].startswith("2. report (chat.post): post in the incident thread: ")
        assert apis.loki_queries() == 0  # a dry-run sends nothing at all
        with world.rt.engine.connect() as conn:
            assert run_store.list_runs(conn, iid) == []
            kinds = [r.kind for r in conn.execute(TIMELINE.select()).all()]
        assert "playbook_dry_run" in kinds

        for text, expected in (
            (f"run {iid} db-slow", 'playbook "db-slow" does not match incident'),
            (f"run {iid} api-5xx window=9h", "parameter window: must be at most 6h"),
            (f"run {iid} nope", 'unknown playbook "nope" (known: api-5xx, db-slow)'),
            ("run 99 api-5xx", "incident 99 not found (see /incident list all)"),
        ):
            await send(world, slash(apis, text))
            answer = apis.responses()[-1]
            assert answer["response_type"] == "ephemeral" and expected in answer["text"], answer

        await send(world, slash(apis, f"run {iid} api-5xx"))
        assert apis.responses()[-1] == {
            "text": f"started playbook api-5xx run #1 for incident #{iid}; progress in the thread",
            "response_type": "in_channel",
        }
        await finished_run(world, 1)

    in_world(database_url, tmp_path, body)


def test_no_matching_playbook_names_the_configured_ones(tmp_path: Path) -> None:
    from routing.storage.migrate import upgrade

    url = f"sqlite:///{tmp_path}/none.db"
    upgrade(url)

    async def body(world: ChatWorld, apis: FakeApis) -> None:
        iid = await world.incident("QueueFull", "queue")
        await send(world, click(apis, "incident_run_playbook", iid))
        (answer,) = apis.responses()
        assert answer["text"] == (
            f"no playbook matches incident #{iid} (configured: api-5xx, db-slow)"
        )
        assert "blocks" not in answer
        # The CLI runs the same command through the same service.
        reply = await execute(
            RunPlaybook(iid, "api-5xx"), Actor("alice", "cli"), command_context(world.rt, "cli")
        )
        assert not reply.ok and 'playbook "api-5xx" does not match incident' in reply.text

    in_world(url, tmp_path, body)
