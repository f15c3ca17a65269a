"""Playbooks in the discord.py bot (no gateway, raw interaction payloads): `/incident run`
registers params and dry_run options, the "Run playbook" button answers with persistent
Run / Dry-run buttons, and pressing them works on messages the bot never saw."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.chat.discord_gateway import FirebellBot, PlaybookButton
from integrations.notifiers.button import discord_playbook_components, discord_playbook_custom_id
from playbooks import run_store
from routing.storage.migrate import upgrade
from tests.bot.chat.playbook_world import FakeApis, playbook_config
from tests.bot.chat.test_discord_gateway import (
    GUILD,
    callbacks,
    dispatched,
    pressed,
    run_bot,
)
from tests.support.chat_harness import ChatWorld, discord_section
from tests.support.loopback_http import LoopbackServer


def in_bot(tmp_path: Path, api: LoopbackServer, body: Any) -> None:
    url = f"sqlite:///{tmp_path}/bot.db"
    upgrade(url)
    loki = FakeApis()
    data = playbook_config(url, loki, tmp_path / "playbooks")
    del data["slack"]
    data["discord"] = discord_section(api.base_url, "ab" * 32, guild_id=GUILD)

    try:
        run_bot(data, body)
    finally:
        loki.server.close()


def on_chooser(interaction_id: str, custom_id: str, incident_id: int) -> Any:
    """A press on the chooser message: discord.py finds the button among its components."""
    payload = pressed(interaction_id, custom_id)
    payload["message"]["components"] = discord_playbook_components(incident_id, ("api-5xx",))
    payload["message"]["flags"] = 64
    return payload


def test_run_registers_params_and_dry_run_options(
    tmp_path: Path, discord_api: LoopbackServer
) -> None:
    async def body(world: ChatWorld, bot: FirebellBot) -> None:
        (sync,) = [r for r in discord_api.requests if r.method == "PUT"]
        (group,) = sync.json()
        run = next(o for o in group["options"] if o["name"] == "run")
        options = {o["name"]: (o["type"], o.get("required", False)) for o in run["options"]}
        assert options == {
            "id": (4, True),
            "playbook": (3, True),
            "params": (3, False),
            "dry_run": (5, False),
        }

    in_bot(tmp_path, discord_api, body)


def test_the_button_offers_playbooks_and_their_buttons_run_as_the_presser(
    tmp_path: Path, discord_api: LoopbackServer
) -> None:
    async def body(world: ChatWorld, bot: FirebellBot) -> None:
        iid = await world.incident()
        bot._connection.parse_interaction_create(pressed("701", f"incident:run:{iid}"))  # type: ignore[arg-type]
        await dispatched()
        (offer,) = callbacks(discord_api)
        assert offer["type"] == 4 and offer["data"]["flags"] == 64
        assert offer["data"]["content"].startswith(f"Playbooks for incident #{iid}:\n• api-5xx")
        (row,) = offer["data"]["components"]
        assert [b["custom_id"] for b in row["components"]] == [
            f"playbook:run:api-5xx:{iid}",
            f"playbook:dry:api-5xx:{iid}",
        ]

        bot._connection.parse_interaction_create(
            on_chooser("702", f"playbook:dry:api-5xx:{iid}", iid)
        )
        await dispatched()
        plan = callbacks(discord_api)[1]
        assert plan["type"] == 4 and plan["data"]["flags"] == 64
        assert plan["data"]["content"].startswith(f"Dry-run of api-5xx for incident #{iid}")

        bot._connection.parse_interaction_create(
            on_chooser("703", f"playbook:run:api-5xx:{iid}", iid)
        )
        await dispatched()
        started = callbacks(discord_api)[2]
        assert started["type"] == 7
        assert started["data"]["content"] == (
            f"started playbook api-5xx run #1 for incident #{iid}; progress in the thread"
        )
        assert started["data"]["components"] == []
        with world.rt.engine.connect() as conn:
            (run,) = run_store.list_runs(conn, iid)
        assert run["started_by"] == "alice"

    in_bot(tmp_path, discord_api, body)


def test_playbook_button_template_matches_the_custom_ids() -> None:
    template = PlaybookButton.__discord_ui_compiled_template__
    for mode in ("run", "dry"):
        custom_id = discord_playbook_custom_id(mode, "api-5xx", 42)
        match = template.fullmatch(custom_id)
        assert match is not None
        assert (match["mode"], match["name"], match["id"]) == (mode, "api-5xx", "42")
    assert len(discord_playbook_custom_id("run", "a" * 64, 10**18 - 1)) <= 100
    assert template.fullmatch("playbook:go:api:1") is None
    assert template.fullmatch("playbook:run:Bad Name:1") is None
