"""Chat keys whose effect no other test showed: slack.command (the slash command the app
answers), discord.bot_token (the credential of the bot's channel messages),
discord.application_id (the application the gateway bot registers /incident under) and
discord.allow_unknown_users (strangers on Discord may act)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import discord
from fastapi.testclient import TestClient

from bot.chat.discord_gateway import FirebellBot, use_api_url
from bot.commands import Actor
from bot.config import parse_config
from bot.roles import create_app
from bot.workers.paging_worker import install_paging
from routing.storage.migrate import upgrade
from tests.bot.chat.test_discord_gateway import GUILD, fake_discord
from tests.bot.chat.test_slack import FakeSlack, in_world, signed, slash_body
from tests.bot.commands.test_execute import call, with_world
from tests.bot.workers.test_paging_e2e import JSON, run
from tests.support.chat_harness import DISCORD_TOKEN, ChatWorld, discord_section, settings_data
from tests.support.loopback_http import RecordedRequest, Reply, start
from tests.support.paging import Clock, am_payload


def test_slack_command_is_the_slash_command_served(tmp_path: Path) -> None:
    async def body(world: ChatWorld, fake: FakeSlack) -> None:
        iid = await world.incident()
        ours = slash_body(fake, f"ack {iid}").replace("%2Fincident", "%2Ffb")
        response = await world.http.post("/slack/events", content=ours, headers=signed(ours))
        assert response.status_code == 200, response.text
        await world.settle()
        [answer] = fake.responses()
        assert answer["text"].startswith(f"Incident #{iid} acknowledged by alice")

        # /incident is not this app's command any more: nothing runs, nobody is answered.
        other = slash_body(fake, f"resolve {iid}")
        await world.http.post("/slack/events", content=other, headers=signed(other))
        await world.settle()
        assert len(fake.responses()) == 1

    in_world(tmp_path, body, command="/fb")


CHANNEL = "123456789012345678"


def test_discord_bot_token_authorizes_the_bots_messages(database_url: str) -> None:
    def discord_api(request: RecordedRequest) -> Reply:
        return Reply.json({"id": "900000000000000001", "channel_id": CHANNEL})

    with start(discord_api) as api:
        config = f"""
database_url: "{database_url}"
discord:
  bot_token: discord-bot-token-0123
  application_id: "775799577604522054"
  public_key: "{"ab" * 32}"
  api_url: {api.base_url}
route:
  receiver: {{channels: ["discord:{CHANNEL}"]}}
"""
        clock = Clock()
        app = create_app(parse_config(config, {}), clock=clock)
        worker = install_paging(app.state.runtime, background=False)
        with TestClient(app) as client:
            posted = client.post("/webhooks/alertmanager", content=am_payload(), headers=JSON)
            assert posted.status_code == 202, posted.text
            run(client, worker, clock)
        sent = [r for r in api.requests if r.path == f"/channels/{CHANNEL}/messages"]
        assert sent and sent[0].method == "POST"
        assert {r.headers["authorization"] for r in sent} == {"Bot discord-bot-token-0123"}


OUR_APPLICATION = "775799577604522099"  # not the id Discord's application info answers


def test_discord_application_id_is_the_application_the_bot_acts_as(tmp_path: Path) -> None:
    def discord_api(request: RecordedRequest) -> Reply:
        if request.path == f"/applications/{OUR_APPLICATION}/guilds/{GUILD}/commands":
            commands: list[dict[str, Any]] = request.json()
            return Reply.json(
                [
                    {**c, "id": str(100 + i), "application_id": OUR_APPLICATION, "version": "1"}
                    for i, c in enumerate(commands)
                ]
            )
        return fake_discord(request)

    url = f"sqlite:///{tmp_path}/bot.db"
    upgrade(url)
    before = discord.http.Route.BASE
    api = start(discord_api)
    use_api_url(api.base_url)
    section = discord_section(
        api.base_url, "ab" * 32, guild_id=GUILD, application_id=OUR_APPLICATION
    )

    async def go() -> None:
        async with ChatWorld.open(settings_data(url, discord=section)) as world:
            bot = FirebellBot(world.rt, world.chat.sync, world.chat.background)
            async with bot:
                await bot.login(DISCORD_TOKEN)  # runs setup_hook: the command sync
                assert bot.application_id == int(OUR_APPLICATION)

    try:
        asyncio.run(go())
    finally:
        discord.http.Route.BASE = before
        api.close()
    synced = [r.path for r in api.requests if r.method == "PUT"]
    assert synced == [f"/applications/{OUR_APPLICATION}/guilds/{GUILD}/commands"]


def test_discord_allow_unknown_users_lets_strangers_act_on_discord_only(
    database_url: str,
) -> None:
    discord_stranger = Actor(None, "discord", "555000000000000555", "mallory")
    slack_stranger = Actor(None, "slack", "U0STRANGER", "mallory")

    async def body(world: ChatWorld, _changes: list[tuple[int, str]]) -> None:
        iid = await world.incident()
        reply = await call(world, f"ack {iid}", discord_stranger)
        assert reply.ok, reply.text
        assert reply.text.startswith(f"Incident #{iid} acknowledged by discord:mallory")
        # Slack's allow_unknown_users is still off.
        assert not (await call(world, f"note {iid} x", slack_stranger)).ok

    section = discord_section("http://127.0.0.1:9/api", "ab" * 32, allow_unknown_users=True)
    with_world(database_url, body, discord=section)
