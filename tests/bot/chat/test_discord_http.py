"""POST /discord/interactions signed with a real Ed25519 key pair: PING, bad signatures,
slash commands through the command layer, and incident buttons updating their message."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey

from bot.chat.discord_http import verify_signature
from routing.response import incidents
from routing.storage.migrate import upgrade
from tests.support.chat_harness import (
    ALICE_DISCORD,
    APPLICATION_ID,
    NOW,
    ChatWorld,
    discord_section,
    settings_data,
)
from tests.support.loopback_http import LoopbackServer, RecordedRequest, Reply, start
from tests.support.paths import SHARED_FIXTURES

SHARED = SHARED_FIXTURES / "discord"


class Signer:
    def __init__(self) -> None:
        self.key = SigningKey.generate()
        self.public_hex = self.key.verify_key.encode().hex()

    def headers(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        ts = str(int(NOW.timestamp()) if timestamp is None else timestamp)
        signature = self.key.sign(ts.encode() + body).signature.hex()
        return {
            "Content-Type": "application/json",
            "X-Signature-Ed25519": signature,
            "X-Signature-Timestamp": ts,
        }


def member(user_id: str = ALICE_DISCORD, name: str = "alice") -> dict[str, Any]:
    return {"user": {"id": user_id, "username": name, "discriminator": "0"}, "roles": []}


def slash(sub: str, options: dict[str, Any], user_id: str = ALICE_DISCORD) -> dict[str, Any]:
    types = {int: 4, str: 3}
    return {
        "id": "786008729715212338",
        "application_id": APPLICATION_ID,
        "type": 2,
        "token": "A_UNIQUE_TOKEN",
        "version": 1,
        "guild_id": "290926798626357999",
        "channel_id": "645027906669510667",
        "member": member(user_id),
        "data": {
            "id": "771825006014889984",
            "name": "incident",
            "type": 1,
            "options": [
                {
                    "type": 1,
                    "name": sub,
                    "options": [
                        {"type": types[type(v)], "name": k, "value": v} for k, v in options.items()
                    ],
                }
            ],
        },
    }


def button(custom_id: str, user_id: str = ALICE_DISCORD) -> dict[str, Any]:
    return {
        "id": "786008729715212339",
        "application_id": APPLICATION_ID,
        "type": 3,
        "token": "A_BUTTON_TOKEN",
        "version": 1,
        "guild_id": "290926798626357999",
        "channel_id": "645027906669510667",
        "member": member(user_id),
        "message": {"id": "900000000000000001", "channel_id": "645027906669510667"},
        "data": {"custom_id": custom_id, "component_type": 2},
    }


Body = Callable[[ChatWorld, Signer, LoopbackServer], Awaitable[None]]


def in_world(tmp_path: Path, body: Body, **discord: Any) -> None:
    signer = Signer()
    api = start(lambda request: _discord_api(request))
    url = f"sqlite:///{tmp_path}/discord.db"
    upgrade(url)
    data = settings_data(url, discord=discord_section(api.base_url, signer.public_hex, **discord))

    async def go() -> None:
        async with ChatWorld.open(data) as world:
            await body(world, signer, api)

    try:
        asyncio.run(go())
    finally:
        api.close()


def _discord_api(request: RecordedRequest) -> Reply:
    assert request.method == "PATCH", request.method
    assert request.path == f"/webhooks/{APPLICATION_ID}/A_UNIQUE_TOKEN/messages/@original"
    body = request.json()
    assert body["content"] and body["allowed_mentions"] == {"parse": []}
    return Reply.json({"id": "1", "channel_id": "2"})


async def post(world: ChatWorld, signer: Signer, payload: dict[str, Any], **kw: Any) -> Any:
    body = json.dumps(payload).encode()
    return await world.http.post(
        "/discord/interactions", content=body, headers=signer.headers(body, **kw)
    )


def test_ping_pong_and_signature_checks(tmp_path: Path) -> None:
    async def body(world: ChatWorld, signer: Signer, api: LoopbackServer) -> None:
        response = await post(world, signer, {"type": 1})
        assert (response.status_code, response.json()) == (200, {"type": 1})
        assert response.headers["content-type"] == "application/json"

        raw = b'{"type":1}'
        forged = Signer().headers(raw)  # someone else's key
        response = await world.http.post("/discord/interactions", content=raw, headers=forged)
        assert response.status_code == 401
        good = signer.headers(raw)
        response = await world.http.post(
            "/discord/interactions", content=b'{"type":1} ', headers=good
        )
        assert response.status_code == 401  # body changed after signing
        response = await world.http.post(
            "/discord/interactions", content=raw, headers={**good, "X-Signature-Ed25519": "zz"}
        )
        assert response.status_code == 401
        no_headers = await world.http.post("/discord/interactions", content=raw)
        assert no_headers.status_code == 401
        replay = await post(world, signer, {"type": 1}, timestamp=int(NOW.timestamp()) - 600)
        assert replay.status_code == 401

    in_world(tmp_path, body)


def test_slash_commands_run_the_command_layer(tmp_path: Path) -> None:
    async def body(world: ChatWorld, signer: Signer, api: LoopbackServer) -> None:
        iid = await world.incident()
        listing = (await post(world, signer, slash("list", {}))).json()
        assert listing["type"] == 4
        assert listing["data"]["flags"] == 64  # ephemeral: it concerns only the caller
        assert listing["data"]["content"].startswith("Open incidents:\n#1 [critical]")

        shown = (await post(world, signer, slash("show", {"id": iid}))).json()["data"]
        (embed,) = shown["embeds"]
        assert embed["color"] == 0xE01E5A  # critical
        assert embed["title"].endswith("[CRITICAL] HighErrorRate on api")
        custom_ids = [c["custom_id"] for c in shown["components"][0]["components"]]
        assert custom_ids == [f"incident:{a}:{iid}" for a in ("ack", "resolve", "silence1h", "run")]

        acked = (await post(world, signer, slash("ack", {"id": iid}))).json()["data"]
        assert "flags" not in acked  # public: it changed the incident
        assert acked["content"] == f"Incident #{iid} acknowledged by alice · HighErrorRate on api"
        assert acked["embeds"][0]["title"].endswith("[ACKNOWLEDGED] HighErrorRate on api")
        assert acked["allowed_mentions"] == {"parse": []}

        wrong = (await post(world, signer, slash("note", {"id": iid}))).json()["data"]
        assert wrong == {
            "content": "note needs some text: /incident note 42 rolled back the deploy",
            "allowed_mentions": {"parse": []},
            "flags": 64,
        }
        denied = (await post(world, signer, slash("resolve", {"id": iid}, "777"))).json()
        assert "add `discord_id: 777`" in denied["data"]["content"]
        with world.rt.engine.connect() as conn:
            assert incidents.get_incident(conn, iid)["status"] == "acknowledged"

    in_world(tmp_path, body)


def test_buttons_change_the_incident_and_update_the_message(tmp_path: Path) -> None:
    async def body(world: ChatWorld, signer: Signer, api: LoopbackServer) -> None:
        iid = await world.incident()
        answer = (await post(world, signer, button(f"incident:ack:{iid}"))).json()
        assert answer["type"] == 7  # update the clicked message
        data = answer["data"]
        assert data["embeds"][0]["title"].endswith("[ACKNOWLEDGED] HighErrorRate on api")
        custom_ids = [c["custom_id"] for c in data["components"][0]["components"]]
        assert custom_ids == [f"incident:{a}:{iid}" for a in ("resolve", "silence1h", "run")]

        resolved = (await post(world, signer, button(f"incident:resolve:{iid}"))).json()
        assert resolved["type"] == 7 and resolved["data"]["components"] == []
        assert resolved["data"]["embeds"][0]["color"] == 0x2EB67D

        again = (await post(world, signer, button(f"incident:ack:{iid}"))).json()
        assert again["type"] == 4 and again["data"]["flags"] == 64
        assert again["data"]["content"] == f"incident #{iid} is already resolved"
        bogus = (await post(world, signer, button("incident:explode:1"))).json()
        assert bogus["data"]["content"] == "custom_id: unknown incident action 'explode'"
        with world.rt.engine.connect() as conn:
            item = incidents.get_incident(conn, iid)
        assert (item["acknowledged_by"], item["resolved_by"]) == ("alice", "alice")

    in_world(tmp_path, body)


def test_slow_commands_are_deferred_and_finished_by_a_follow_up(tmp_path: Path) -> None:
    async def body(world: ChatWorld, signer: Signer, api: LoopbackServer) -> None:
        iid = await world.incident()
        # No time at all to answer, as if the database were slow.
        world.rt.extras["discord_answer_within"] = 0
        answer = (await post(world, signer, slash("ack", {"id": iid}))).json()
        assert answer == {"type": 5, "data": {"flags": 64}}
        await world.settle()
        (patch,) = api.requests
        assert (
            patch.json()["content"]
            == f"Incident #{iid} acknowledged by alice · HighErrorRate on api"
        )

    in_world(tmp_path, body)


def test_unsupported_interactions_and_bodies(tmp_path: Path) -> None:
    async def body(world: ChatWorld, signer: Signer, api: LoopbackServer) -> None:
        autocomplete = await post(world, signer, {"type": 4, "data": {}})
        assert autocomplete.status_code == 400
        assert autocomplete.json()["detail"] == "type: unsupported interaction type 4"
        raw = b"not json"
        response = await world.http.post(
            "/discord/interactions", content=raw, headers=signer.headers(raw)
        )
        assert response.status_code == 400

    in_world(tmp_path, body)


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared Discord fixtures not present")
def test_published_signature_vector_verifies() -> None:
    from datetime import UTC, datetime

    from nacl.signing import VerifyKey

    vector = json.loads((SHARED / "signature_vector_ed25519_ping.json").read_text())
    key = VerifyKey(bytes.fromhex(vector["public_key_hex"]))
    headers = vector["headers"]
    ts = headers["X-Signature-Timestamp"]
    at = datetime.fromtimestamp(int(ts), UTC)
    body = vector["body"].encode()
    assert verify_signature(key, headers["X-Signature-Ed25519"], ts, body, at)
    assert not verify_signature(key, headers["X-Signature-Ed25519"], ts, body + b" ", at)
