"""Approve / Reject in the discord.py bot (no gateway, raw interaction payloads, as
test_discord_gateway): the persistent ApprovalButton routes a press on a message the bot
never saw, decides as the presser's linked firebell user and answers only the presser."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bot.chat.approval_render import Click, approval_custom_id, parse_discord_click
from bot.chat.discord_gateway import ApprovalButton, FirebellBot
from routing.storage.migrate import upgrade
from tests.bot.chat.test_discord_gateway import (
    DISCORD_TOKEN,
    GUILD,
    callbacks,
    dispatched,
    pressed,
    user,
)
from tests.playbooks.approval_support import (
    REQUEST_HASH,
    SLACK_IDS,
    ApprovalWorld,
    Clock,
    approval_settings,
)
from tests.support.chat_harness import ChatWorld, discord_section
from tests.support.loopback_http import LoopbackServer

# approval_settings links alice, bob, ... to discord ids 1001, 1002, ...
DISCORD_IDS = {name: str(1000 + i) for i, name in enumerate(SLACK_IDS, 1)}


def on_request(interaction_id: str, custom_id: str, presser: str) -> dict[str, Any]:
    """A press on the approval request, by `presser`'s linked Discord account."""
    payload = pressed(interaction_id, custom_id)
    payload["user"] = user(DISCORD_IDS[presser])
    payload["message"]["content"] = "Approval needed: playbook deploy, step hotfix"
    payload["message"]["components"] = [
        {
            "type": 1,
            "components": [
                {"type": 2, "style": 3, "label": "Approve", "custom_id": custom_id},
                {"type": 2, "style": 4, "label": "Reject",
                 "custom_id": custom_id.replace(":approve:", ":reject:")},
            ],
        }
    ]  # fmt: skip
    return payload


def test_approve_button_decides_as_the_linked_presser(
    tmp_path: Path, discord_api: LoopbackServer
) -> None:
    url = f"sqlite:///{tmp_path}/bot.db"
    upgrade(url)
    data = approval_settings(
        url,
        tmp_path / "playbooks",
        discord=discord_section(discord_api.base_url, "ab" * 32, guild_id=GUILD),
    )

    async def go() -> None:
        clock = Clock()
        async with ChatWorld.open(data, clock=clock) as chat:
            w = ApprovalWorld(chat, clock)
            w.service.wake = lambda: w.wakes.append(1)  # the worker's loop is not under test
            bot = FirebellBot(chat.rt, chat.chat.sync, chat.chat.background)
            async with bot:
                await bot.login(DISCORD_TOKEN)  # runs setup_hook: the dynamic items
                run_id = await w.awaiting_run(started_by="alice")
                custom_id = f"approval:approve:{run_id}:hotfix:{REQUEST_HASH[:12]}"

                bot._connection.parse_interaction_create(on_request("801", custom_id, "alice"))  # type: ignore[arg-type]
                await dispatched()
                (refusal,) = callbacks(discord_api)
                assert refusal["type"] == 4 and refusal["data"]["flags"] == 64
                assert refusal["data"]["content"].startswith(
                    "alice started this run and cannot decide its approval; who may: "
                )
                assert w.timeline("playbook_approval") == []

                bot._connection.parse_interaction_create(on_request("802", custom_id, "bob"))  # type: ignore[arg-type]
                await dispatched()
                answer = callbacks(discord_api)[1]
                assert answer["type"] == 4 and answer["data"]["flags"] == 64
                assert answer["data"]["content"] == (
                    f"step hotfix of run {run_id}: approved by bob (1 of 2 approvals)"
                )
                (entry,) = w.timeline("playbook_approval")
                assert (entry["actor"], entry["data"]["surface"]) == ("bob", "discord")
                assert entry["data"]["request_hash"] == REQUEST_HASH

                # A custom_id without the step (one too long for Discord's cap): the
                # request hash names the step.
                no_step = f"approval:approve:{run_id}::{REQUEST_HASH[:12]}"
                bot._connection.parse_interaction_create(on_request("803", no_step, "carol"))  # type: ignore[arg-type]
                await dispatched()
                assert callbacks(discord_api)[2]["data"]["content"] == (
                    f"step hotfix of run {run_id}: approved by carol (2 of 2 approvals)"
                )
                stale = f"approval:approve:{run_id}::{'b' * 12}"
                bot._connection.parse_interaction_create(on_request("804", stale, "dave"))  # type: ignore[arg-type]
                await dispatched()
                assert callbacks(discord_api)[3]["data"]["content"].startswith(
                    "this message shows an earlier request, voided since"
                )
                await chat.settle()

    asyncio.run(go())


def test_approval_button_template_matches_the_custom_ids() -> None:
    template = ApprovalButton.__discord_ui_compiled_template__
    custom_id = f"approval:reject:42:hotfix:{REQUEST_HASH[:12]}"
    found = template.fullmatch(custom_id)
    assert found is not None
    assert (found["action"], found["run"], found["step"], found["hash"]) == (
        "reject", "42", "hotfix", REQUEST_HASH[:12]
    )  # fmt: skip
    assert template.fullmatch("approval:delete:42:hotfix:aaaa") is None

    # The longest step id and run id do not fit Discord's 100 characters: the step is
    # left out, and the request hash names it.
    longest = Click("approve", 10**18 - 1, "s" * 64, REQUEST_HASH[:12])
    custom_id = approval_custom_id(longest)
    assert custom_id == f"approval:approve:{10**18 - 1}::{REQUEST_HASH[:12]}"
    assert parse_discord_click(custom_id) == Click("approve", 10**18 - 1, None, REQUEST_HASH[:12])
    short = Click("reject", 42, "hotfix", REQUEST_HASH[:12])
    assert parse_discord_click(approval_custom_id(short)) == short
