"""Approvals from Discord's HTTP interactions (Ed25519-signed): the request is a reply to
the incident message with Approve / Reject components, a press decides as the linked
firebell user (refused, naming who may, for an unlinked or unpermitted presser), and the
request is PATCHed in place with the count."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.bot.chat.playbook_world import DISCORD_PARENT, FakeApis
from tests.bot.chat.test_discord_http import Signer, button
from tests.bot.chat.test_playbook_discord import EPHEMERAL, interact
from tests.playbooks.approval_support import REQUEST_HASH, approval_world
from tests.support.chat_harness import discord_section, store_message

WHO_MAY = "team:backend (bob, carol), oncall:primary (now: carol); not alice, who started the run"
ALICE, BOB, ERIN = "1001", "1002", "1005"


def test_presses_decide_as_the_linked_user_and_the_request_is_edited(
    database_url: str, tmp_path: Path
) -> None:
    apis = FakeApis()
    signer = Signer()

    async def go() -> None:
        discord = discord_section(apis.base_url + "/discord", signer.public_hex)
        async with approval_world(database_url, tmp_path, discord=discord) as w:
            run_id = await w.awaiting_run(started_by="alice")
            incident_id = w.run_row(run_id)["incident_id"]
            store_message(w.chat, incident_id, "discord:2001", DISCORD_PARENT)
            w.chat.rt.extras["playbook_progress"](run_id)
            await w.chat.settle()

            posts = apis.calls("POST", "/discord/channels/2001/messages")
            (request,) = [p for p in posts if p["content"].startswith("Approval needed")]
            assert request["message_reference"]["message_id"] == DISCORD_PARENT.split(":")[1]
            assert f"Who may approve: {WHO_MAY}" in request["content"].splitlines()
            (row,) = request["components"]
            custom = f"{run_id}:hotfix:{REQUEST_HASH[:12]}"
            assert [(c["label"], c["custom_id"]) for c in row["components"]] == [
                ("Approve", f"approval:approve:{custom}"), ("Reject", f"approval:reject:{custom}")
            ]  # fmt: skip

            for user, expected in (
                ("777", "linked to none"),
                (ERIN, f"erin may not approve this step; who may: {WHO_MAY}"),
                (ALICE, "alice started this run and cannot decide its approval"),
            ):
                answer = await interact(w.chat, signer, button(f"approval:approve:{custom}", user))
                assert answer["type"] == 4 and answer["data"]["flags"] == EPHEMERAL
                assert expected in answer["data"]["content"]
            assert w.timeline("playbook_approval") == []

            answer = await interact(w.chat, signer, button(f"approval:approve:{custom}", BOB))
            assert answer["data"]["content"] == (
                f"step hotfix of run {run_id}: approved by bob (1 of 2 approvals)"
            )
            await w.chat.settle()
            (entry,) = w.timeline("playbook_approval")
            assert (entry["actor"], entry["data"]["surface"]) == ("bob", "discord")
            ref = w.run_row(run_id)["chat_refs"][f"approval:hotfix:discord:{DISCORD_PARENT}"]
            channel, message = ref.split(":")
            edits = apis.calls("PATCH", f"/discord/channels/{channel}/messages/{message}")
            assert "Approvals: 1 of 2 (bob)" in edits[-1]["content"].splitlines()

    try:
        asyncio.run(go())
    finally:
        apis.server.close()
