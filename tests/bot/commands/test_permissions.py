"""Roles in the command layer (Slack, Discord, CLI): viewer reads, responder changes
incidents and silences, admin also pages by hand; on a real database (SQLite, PostgreSQL)."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.chat.context import command_context
from bot.commands import Actor, CommandError, Reply, execute, parse_command
from routing.response import incidents
from routing.storage.paging_tables import SilenceRow
from tests.support.chat_harness import ChatWorld, settings_data

SILENCE = SilenceRow.metadata.tables["silence"]
CAROL_SLACK = "U0CAROL"


def roles_config(database_url: str, **extra: Any) -> dict[str, Any]:
    data = settings_data(database_url, **extra)
    data["users"] = [
        *data["users"],
        {"name": "carol", "slack_id": CAROL_SLACK, "discord_id": "1003", "role": "viewer"},
    ]
    return data


async def call(world: ChatWorld, text: str, actor: Actor) -> Reply:
    command = parse_command(text)
    assert not isinstance(command, CommandError), command
    return await execute(command, actor, command_context(world.rt, actor.surface))


def run(database_url: str, body: Any, **extra: Any) -> None:
    async def go() -> None:
        async with ChatWorld.open(roles_config(database_url, **extra)) as world:
            await body(world)

    asyncio.run(go())


def test_a_linked_viewer_reads_and_is_told_which_role_a_write_needs(database_url: str) -> None:
    carol = Actor("carol", "slack", CAROL_SLACK, "carol")

    async def body(world: ChatWorld) -> None:
        iid = await world.incident()
        assert (await call(world, f"show {iid}", carol)).ok
        assert (await call(world, "silences", carol)).ok
        for text in (f"ack {iid}", f"resolve {iid}", f"note {iid} hi", "silence service=api 1h"):
            reply = await call(world, text, carol)
            verb = text.split()[0]
            assert reply == Reply(
                f"{verb} needs the responder role; carol is a viewer (an admin can set "
                "`role: responder` on carol under `users:` in the firebell config).",
                ok=False,
            )
        page = await call(world, "page bob db down", carol)
        assert page.text.startswith("page needs the admin role; carol is a viewer")
        with world.rt.engine.connect() as conn:
            item = incidents.get_incident(conn, iid)
            assert item["status"] == "triggered"
            assert not any(e["actor"] == "carol" for e in item["timeline"])
            assert conn.execute(SILENCE.select()).first() is None

    run(database_url, body)


def test_a_responder_changes_incidents_but_only_an_admin_pages_by_hand(database_url: str) -> None:
    bob = Actor("bob", "discord", "1002", "bob")
    alice = Actor("alice", "discord", "1001", "alice")

    async def body(world: ChatWorld) -> None:
        iid = await world.incident()
        assert (await call(world, f"note {iid} looking", bob)).ok
        assert (await call(world, "silence service=db 1h", bob)).ok
        assert (await call(world, f"ack {iid}", bob)).text.startswith(
            f"Incident #{iid} acknowledged by bob"
        )
        refused = await call(world, "page alice db down", bob)
        assert not refused.ok
        assert refused.text.startswith("page needs the admin role; bob is a responder")
        paged = await call(world, "page bob db down", alice)
        assert paged.ok and paged.text.startswith("alice paged user:bob")

    run(database_url, body)


def test_unknown_users_allowed_to_act_are_responders_not_admins(database_url: str) -> None:
    slack = {"bot_token": "xoxb-1", "signing_secret": "s3cret", "allow_unknown_users": True}
    stranger = Actor(None, "slack", "U0STRANGER", "mallory")

    async def body(world: ChatWorld) -> None:
        iid = await world.incident()
        assert (await call(world, f"ack {iid}", stranger)).ok
        page = await call(world, "page bob db down", stranger)
        assert not page.ok
        assert page.text.startswith("page needs the admin role, and you are not linked")
        assert "`slack_id: U0STRANGER`" in page.text and "`role: admin`" in page.text

    run(database_url, body, slack=slack)
