"""The discord.py bot without a gateway: the /incident tree and the persistent buttons are
driven with raw interaction payloads (as discord.py's own tests do), and discord.py's REST
calls (login, command sync, interaction callbacks) go to a recording loopback server."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import discord

from bot.chat.discord_gateway import FirebellBot, IncidentButton
from routing.response import incidents
from routing.storage.migrate import upgrade
from tests.support.chat_harness import (
    ALICE_DISCORD,
    APPLICATION_ID,
    DISCORD_TOKEN,
    ChatWorld,
    discord_section,
    settings_data,
)
from tests.support.loopback_http import LoopbackServer, RecordedRequest, Reply

GUILD = "290926798626357999"
CHANNEL = "645027906669510667"
BOT_USER = {"id": "999", "username": "firebell", "discriminator": "0", "avatar": None, "bot": True}


def fake_discord(request: RecordedRequest) -> Reply:
    if request.path.startswith("/interactions/") and request.path.endswith("/callback"):
        # Interaction callbacks are authorized by their token in the path, not the bot's.
        assert request.query == {"with_response": ["1"]}
        interaction_id = request.path.split("/")[2]
        return Reply.json({"interaction": {"id": interaction_id, "type": 2}})
    assert request.headers["authorization"] == f"Bot {DISCORD_TOKEN}"
    if request.path == "/users/@me":
        return Reply.json(BOT_USER)
    if request.path == "/oauth2/applications/@me":
        return Reply.json(
            {
                "id": APPLICATION_ID,
                "name": "firebell",
                "description": "",
                "icon": None,
                "bot_public": False,
                "bot_require_code_grant": False,
                "owner": BOT_USER,
                "verify_key": "00" * 32,
                "flags": 0,
            }
        )
    if request.path == f"/applications/{APPLICATION_ID}/guilds/{GUILD}/commands":
        assert request.method == "PUT"
        commands = request.json()
        return Reply.json(
            [
                {**c, "id": str(100 + i), "application_id": APPLICATION_ID, "version": "1"}
                for i, c in enumerate(commands)
            ]
        )
    raise AssertionError(f"unexpected Discord call {request.method} {request.path}")


def user(user_id: str) -> dict[str, Any]:
    return {"id": user_id, "username": "alice", "discriminator": "0", "avatar": None}


def slash(
    interaction_id: str, sub: str, options: list[dict[str, Any]], user_id: str = ALICE_DISCORD
) -> dict[str, Any]:
    return {
        "id": interaction_id,
        "application_id": APPLICATION_ID,
        "type": 2,
        "token": f"token-{interaction_id}",
        "version": 1,
        "attachment_size_limit": 10485760,
        "channel_id": CHANNEL,
        "user": user(user_id),  # a DM: no guild member objects to build
        "data": {
            "id": "100",
            "name": "incident",
            "type": 1,
            "options": [{"type": 1, "name": sub, "options": options}],
        },
    }


def pressed(
    interaction_id: str, custom_id: str, message_id: str = "900000000000000001"
) -> dict[str, Any]:
    incident = custom_id.rsplit(":", 1)[1]
    return {
        "id": interaction_id,
        "application_id": APPLICATION_ID,
        "type": 3,
        "token": f"token-{interaction_id}",
        "version": 1,
        "attachment_size_limit": 10485760,
        "channel_id": CHANNEL,
        "user": user(ALICE_DISCORD),
        "message": {
            "id": message_id,
            "channel_id": CHANNEL,
            "author": BOT_USER,
            "content": "[CRITICAL] HighErrorRate on api",
            "timestamp": "2026-03-02T10:00:00+00:00",
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "type": 0,
            "flags": 0,
            # As the outbox posted it: discord.py rebuilds the view from these.
            "components": [
                {
                    "type": 1,
                    "components": [
                        {
                            "type": 2,
                            "style": 1,
                            "label": action,
                            "custom_id": f"incident:{action}:{incident}",
                        }
                        for action in ("ack", "resolve", "silence1h", "run")
                    ],
                }
            ],
        },
        "data": {"custom_id": custom_id, "component_type": 2},
    }


def callbacks(api: LoopbackServer) -> list[dict[str, Any]]:
    return [r.json() for r in api.requests if r.path.endswith("/callback")]


async def dispatched() -> None:
    """Wait for the tasks discord.py started for component interactions."""
    me = asyncio.current_task()
    while True:
        tasks = [
            t
            for t in asyncio.all_tasks()
            if t is not me and not t.done() and t.get_name().startswith("discord-ui-")
        ]
        if not tasks:
            return
        await asyncio.gather(*tasks)


def in_bot(tmp_path: Path, api: LoopbackServer, body: Any) -> None:
    url = f"sqlite:///{tmp_path}/bot.db"
    upgrade(url)
    run_bot(
        settings_data(url, discord=discord_section(api.base_url, "ab" * 32, guild_id=GUILD)), body
    )


def run_bot(data: dict[str, Any], body: Any) -> None:
    """`body(world, bot)` with the discord.py bot logged in against the fake REST API."""

    async def go() -> None:
        async with ChatWorld.open(data) as world:
            bot = FirebellBot(world.rt, world.chat.sync, world.chat.background)
            async with bot:
                await bot.login(DISCORD_TOKEN)  # runs setup_hook: dynamic items and sync
                try:
                    await body(world, bot)
                finally:
                    await world.settle()

    asyncio.run(go())


def test_setup_registers_the_incident_group_in_the_guild(
    tmp_path: Path, discord_api: LoopbackServer
) -> None:
    async def body(world: ChatWorld, bot: FirebellBot) -> None:
        (sync,) = [r for r in discord_api.requests if r.method == "PUT"]
        (group,) = sync.json()
        assert group["name"] == "incident"
        subcommands = {o["name"]: o for o in group["options"]}
        assert list(subcommands) == [
            "list", "show", "ack", "resolve", "note", "oncall", "page",
            "silence", "silences", "unsilence", "run", "help",
        ]  # fmt: skip
        resolve = {
            o["name"]: (o["type"], o.get("required", False))
            for o in subcommands["resolve"]["options"]
        }
        assert resolve == {"id": (4, True), "note": (3, False)}
        scope = subcommands["list"]["options"][0]
        assert [c["value"] for c in scope["choices"]] == [
            "open", "all", "triggered", "acknowledged", "resolved",
        ]  # fmt: skip

    in_bot(tmp_path, discord_api, body)


def test_slash_commands_answer_through_the_interaction(
    tmp_path: Path, discord_api: LoopbackServer
) -> None:
    async def body(world: ChatWorld, bot: FirebellBot) -> None:
        iid = await world.incident()
        show = discord.Interaction(
            data=slash("501", "show", [{"type": 4, "name": "id", "value": iid}]),  # type: ignore[arg-type]
            state=bot._connection,
        )
        await bot.tree._call(show)
        ack = discord.Interaction(
            data=slash("502", "ack", [{"type": 4, "name": "id", "value": iid}]),  # type: ignore[arg-type]
            state=bot._connection,
        )
        await bot.tree._call(ack)
        stranger = discord.Interaction(
            data=slash("503", "resolve", [{"type": 4, "name": "id", "value": iid}], "4242"),  # type: ignore[arg-type]
            state=bot._connection,
        )
        await bot.tree._call(stranger)

        shown, acked, denied = callbacks(discord_api)
        assert shown["type"] == 4 and shown["data"]["flags"] == 64
        assert shown["data"]["content"].startswith(f"Incident #{iid}: HighErrorRate on api")
        assert shown["data"]["embeds"][0]["color"] == 0xE01E5A
        buttons = shown["data"]["components"][0]["components"]
        assert [b["custom_id"] for b in buttons] == [
            f"incident:{a}:{iid}" for a in ("ack", "resolve", "silence1h", "run")
        ]
        assert (
            acked["data"]["content"]
            == f"Incident #{iid} acknowledged by alice · HighErrorRate on api"
        )
        assert not acked["data"].get("flags")  # public
        assert denied["data"]["flags"] == 64
        assert "add `discord_id: 4242`" in denied["data"]["content"]
        with world.rt.engine.connect() as conn:
            assert incidents.get_incident(conn, iid)["status"] == "acknowledged"

    in_bot(tmp_path, discord_api, body)


def test_persistent_buttons_work_on_messages_the_bot_never_saw(
    tmp_path: Path, discord_api: LoopbackServer
) -> None:
    async def body(world: ChatWorld, bot: FirebellBot) -> None:
        iid = await world.incident()
        # No view was ever attached to this message: the DynamicItem template routes it.
        bot._connection.parse_interaction_create(pressed("601", f"incident:ack:{iid}"))  # type: ignore[arg-type]
        await dispatched()
        (update,) = callbacks(discord_api)
        assert update["type"] == 7
        assert update["data"]["embeds"][0]["title"].endswith("[ACKNOWLEDGED] HighErrorRate on api")
        rows = update["data"]["components"]
        assert [c["custom_id"] for c in rows[0]["components"]] == [
            f"incident:{a}:{iid}" for a in ("resolve", "silence1h", "run")
        ]
        bot._connection.parse_interaction_create(pressed("602", f"incident:run:{iid}"))  # type: ignore[arg-type]
        await dispatched()
        refused = callbacks(discord_api)[1]
        assert refused["type"] == 4 and refused["data"]["flags"] == 64
        assert refused["data"]["content"] == (
            f"no playbooks are configured, so there is nothing to run for incident #{iid}"
        )
        with world.rt.engine.connect() as conn:
            assert incidents.get_incident(conn, iid)["acknowledged_by"] == "alice"

    in_bot(tmp_path, discord_api, body)


def test_dynamic_item_template_matches_the_notifier_custom_ids() -> None:
    from integrations.notifiers.button import BUTTONS, discord_custom_id

    for button in BUTTONS:
        custom_id = discord_custom_id(button.action, 42)
        match = IncidentButton.__discord_ui_compiled_template__.fullmatch(custom_id)
        assert match is not None and (match["action"], match["id"]) == (button.action.value, "42")
    assert IncidentButton.__discord_ui_compiled_template__.fullmatch("incident:drop:1") is None
