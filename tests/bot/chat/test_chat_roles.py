"""Roles over signed chat requests: a linked viewer's slash commands and buttons read but
never change an incident, on Slack (/slack/events) and Discord (/discord/interactions),
on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from routing.response import incidents
from tests.bot.chat.test_discord_http import Signer, button, slash
from tests.bot.chat.test_slack import FakeSlack, button_body, signed, slash_body
from tests.support.chat_harness import (
    ChatWorld,
    discord_section,
    settings_data,
    slack_section,
)
from tests.support.loopback_http import RecordedRequest, Reply, start

CAROL_SLACK, CAROL_DISCORD = "U0CAROL", "1003"


def with_carol(data: dict[str, Any]) -> dict[str, Any]:
    carol = {"name": "carol", "slack_id": CAROL_SLACK, "discord_id": CAROL_DISCORD}
    data["users"] = [*data["users"], {**carol, "role": "viewer"}]
    return data


def test_a_linked_viewer_cannot_change_incidents_from_slack(database_url: str) -> None:
    fake = FakeSlack()
    data = with_carol(settings_data(database_url, slack=slack_section(fake.base_url + "/api/")))

    async def go() -> None:
        async with ChatWorld.open(data) as world:
            iid = await world.incident()
            forms = [
                slash_body(fake, f"ack {iid}", CAROL_SLACK),
                slash_body(fake, f"show {iid}", CAROL_SLACK),
                button_body(fake, "incident_resolve", iid, user_id=CAROL_SLACK),
                button_body(fake, "incident_silence_1h", iid, user_id=CAROL_SLACK),
            ]
            for form in forms:
                response = await world.http.post(
                    "/slack/events", content=form, headers=signed(form)
                )
                assert response.status_code == 200
                await world.settle()
            ack, show, resolve, silence = fake.responses()
            assert ack == {
                "text": "ack needs the responder role; carol is a viewer (an admin can set "
                "`role: responder` on carol under `users:` in the firebell config).",
                "response_type": "ephemeral",
            }
            assert show["text"].startswith(f"Incident #{iid}: HighErrorRate on api")
            assert resolve["text"].startswith("resolve needs the responder role; carol")
            assert silence["text"].startswith("silence needs the responder role; carol")
            assert fake.calls("/api/chat.update") == []
            with world.rt.engine.connect() as conn:
                item = incidents.get_incident(conn, iid)
            assert item["status"] == "triggered"
            assert not any(e["actor"] == "carol" for e in item["timeline"])

    try:
        asyncio.run(go())
    finally:
        fake.server.close()


def test_a_linked_viewer_cannot_change_incidents_from_discord(database_url: str) -> None:
    signer = Signer()
    edits: list[dict[str, Any]] = []

    def discord_api(request: RecordedRequest) -> Reply:
        edits.append(request.json())
        return Reply.json({"id": "1", "channel_id": "2"})

    api = start(discord_api)
    section = discord_section(api.base_url, signer.public_hex)
    data = with_carol(settings_data(database_url, discord=section))

    async def go() -> None:
        async with ChatWorld.open(data) as world:
            iid = await world.incident()
            answers = []
            for payload in (
                slash("ack", {"id": iid}, user_id=CAROL_DISCORD),
                button(f"incident:resolve:{iid}", user_id=CAROL_DISCORD),
            ):
                body = json.dumps(payload).encode()
                response = await world.http.post(
                    "/discord/interactions", content=body, headers=signer.headers(body)
                )
                assert response.status_code == 200, response.text
                await world.settle()
                answer = response.json()["data"]
                # Answered at once, or (when slow) by editing the deferred answer.
                answers.append(answer.get("content") or (edits[-1]["content"] if edits else ""))
            ack, resolve = answers
            assert ack.startswith("ack needs the responder role; carol is a viewer"), ack
            assert resolve.startswith("resolve needs the responder role; carol"), resolve
            with world.rt.engine.connect() as conn:
                item = incidents.get_incident(conn, iid)
            assert item["status"] == "triggered"
            assert not any(e["actor"] == "carol" for e in item["timeline"])

    try:
        asyncio.run(go())
    finally:
        api.close()
