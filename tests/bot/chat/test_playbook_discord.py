"""Playbooks from Discord's HTTP interactions (Ed25519-signed): the "Run playbook" button
answers with Run / Dry-run buttons for the matching playbooks, pressing one runs as the
linked presser, `/incident run` takes params and dry_run options, and the run's
progress is one reply to the incident message, then PATCHed in place."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from playbooks import run_store
from tests.bot.chat.playbook_world import DISCORD_PARENT, FakeApis, playbook_config
from tests.bot.chat.test_discord_http import Signer, button, slash
from tests.bot.chat.test_playbook_slack import finished_run
from tests.support.chat_harness import ChatWorld, store_message

EPHEMERAL = 64


def in_world(database_url: str, tmp_path: Path, body: Any) -> None:
    apis = FakeApis()
    signer = Signer()
    data = playbook_config(database_url, apis, tmp_path / "playbooks", signer.public_hex)

    async def go() -> None:
        async with ChatWorld.open(data) as world:
            await body(world, apis, signer)

    try:
        asyncio.run(go())
    finally:
        apis.server.close()


async def interact(world: ChatWorld, signer: Signer, payload: dict[str, Any]) -> dict[str, Any]:
    raw = json.dumps(payload).encode()
    response = await world.http.post(
        "/discord/interactions", content=raw, headers=signer.headers(raw)
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_buttons_offer_run_and_dry_run_and_a_press_runs_as_the_presser(
    database_url: str, tmp_path: Path
) -> None:
    async def body(world: ChatWorld, apis: FakeApis, signer: Signer) -> None:
        iid = await world.incident()
        store_message(world, iid, "discord:2001", DISCORD_PARENT)

        offer = await interact(world, signer, button(f"incident:run:{iid}"))
        assert offer["type"] == 4 and offer["data"]["flags"] == EPHEMERAL
        assert offer["data"]["content"] == (
            f"Playbooks for incident #{iid}:\n• api-5xx — Recent API errors"
        )
        (row,) = offer["data"]["components"]
        assert [(c["label"], c["custom_id"], c["style"]) for c in row["components"]] == [
            ("Run api-5xx", f"playbook:run:api-5xx:{iid}", 1),
            ("Dry-run api-5xx", f"playbook:dry:api-5xx:{iid}", 2),
        ]

        plan = await interact(world, signer, button(f"playbook:dry:api-5xx:{iid}"))
        assert plan["type"] == 4 and plan["data"]["flags"] == EPHEMERAL
        assert plan["data"]["content"].startswith(
            f"Dry-run of api-5xx for incident #{iid} (window=30m): nothing sent\n1. loki"
        )
        assert apis.loki_queries() == 0

        refused = await interact(world, signer, button(f"playbook:run:api-5xx:{iid}", "777"))
        assert refused["type"] == 4 and refused["data"]["flags"] == EPHEMERAL
        assert refused["data"]["content"].startswith("you are not linked to a firebell user")

        started = await interact(world, signer, button(f"playbook:run:api-5xx:{iid}"))
        assert started == {
            "type": 7,  # the chooser becomes what happened
            "data": {
                "content": (
                    f"started playbook api-5xx run #1 for incident #{iid}; progress in the thread"
                ),
                "allowed_mentions": {"parse": []},
                "components": [],
            },
        }
        run = await finished_run(world, 1)
        assert (run["started_by"], run["status"]) == ("alice", "succeeded")
        reply_ref = run["chat_refs"][f"discord:{DISCORD_PARENT}"]
        reply_id = reply_ref.partition(":")[2]
        posts = apis.calls("POST", "/discord/channels/2001/messages")
        assert all(p["message_reference"]["message_id"] == "3001" for p in posts)
        progress = [p for p in posts if p["content"].startswith("Playbook api-5xx (run #1")]
        assert len(progress) == 1
        edits = apis.calls("PATCH", f"/discord/channels/2001/messages/{reply_id}")
        assert edits and "— succeeded" in edits[-1]["content"]

    in_world(database_url, tmp_path, body)


def test_slash_run_takes_params_and_dry_run_options(tmp_path: Path) -> None:
    from routing.storage.migrate import upgrade

    url = f"sqlite:///{tmp_path}/discord.db"
    upgrade(url)

    async def body(world: ChatWorld, apis: FakeApis, signer: Signer) -> None:
        iid = await world.incident()
        options = {"id": iid, "playbook": "api-5xx", "params": "window=1h", "dry_run": True}
        payload = slash("run", {})
        payload["data"]["options"][0]["options"] = [
            {"type": {int: 4, str: 3, bool: 5}[type(v)], "name": k, "value": v}
            for k, v in options.items()
        ]
        answer = await interact(world, signer, payload)
        assert answer["type"] == 4 and answer["data"]["flags"] == EPHEMERAL
        assert "embeds" not in answer["data"]  # about the playbook, not the incident
        assert answer["data"]["content"].startswith(
            f"Dry-run of api-5xx for incident #{iid} (window=1h): nothing sent"
        )
        bad = await interact(world, signer, slash("run", {"id": iid, "playbook": "db-slow"}))
        assert bad["data"]["flags"] == EPHEMERAL
        assert 'playbook "db-slow" does not match incident' in bad["data"]["content"]
        with world.rt.engine.connect() as conn:
            assert run_store.list_runs(conn, iid) == []

    in_world(url, tmp_path, body)
