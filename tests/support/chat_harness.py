"""A firebell app with chat installed, for the command, Slack and Discord tests.

async with ChatWorld.open(database_url, slack_api=..., discord_api=...) as world:
    incident_id = await world.alert("HighErrorRate")
    response = await world.http.post("/slack/events", ...)
    await world.settle()  # every listener and message edit has finished
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import insert

from bot.chat.wiring import Chat
from bot.config import Settings
from bot.roles import create_app
from bot.runtime.state import Runtime
from routing.intake.alert import Alert, AlertStatus, Severity
from routing.intake.fingerprint import fingerprint_of
from routing.intake.submission import Submission
from routing.paging.outbox import NOTIFICATION

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_TOKEN = "xoxb-test-token"
DISCORD_TOKEN = "discord-test-token"
ALICE_SLACK, BOB_SLACK = "U0ALICE", "U0BOB"
ALICE_DISCORD, BOB_DISCORD = "1001", "1002"
APPLICATION_ID = "775799577604522054"


def settings_data(database_url: str, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "database_url": database_url,
        "users": [
            {
                "name": "alice",
                "time_zone": "Europe/Madrid",
                "slack_id": ALICE_SLACK,
                "discord_id": ALICE_DISCORD,
                "contacts": ["json://127.0.0.1:9/alice"],
                "role": "admin",  # may page by hand; bob has the default, responder
            },
            {
                "name": "bob",
                "slack_id": BOB_SLACK,
                "discord_id": BOB_DISCORD,
                "contacts": ["json://127.0.0.1:9/bob"],
            },
        ],
        "teams": [{"name": "ops", "members": ["alice", "bob"], "channels": ["slack:#ops"]}],
        "schedules": [
            {
                "name": "primary",
                "time_zone": "Europe/Madrid",
                "layers": [{"rotation": "weekly", "members": ["alice", "bob"]}],
            }
        ],
    }
    data.update(extra)
    return data


def slack_section(api_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "bot_token": SLACK_TOKEN,
        "signing_secret": SIGNING_SECRET,
        "api_url": api_url,
        **extra,
    }


def discord_section(api_url: str, public_key: str, **extra: Any) -> dict[str, Any]:
    return {
        "bot_token": DISCORD_TOKEN,
        "application_id": APPLICATION_ID,
        "public_key": public_key,
        "api_url": api_url,
        **extra,
    }


def alert(
    name: str = "HighErrorRate",
    service: str = "api",
    status: AlertStatus = AlertStatus.FIRING,
    severity: Severity = Severity.CRITICAL,
    instance: str = "node-1",
) -> Alert:
    labels = {"alertname": name, "service": service, "instance": instance}
    return Alert(
        source="alertmanager",
        fingerprint=fingerprint_of("alertmanager", labels),
        status=status,
        severity=severity,
        service=service,
        title=f"{name} on {service}",
        labels=labels,
        annotations={"summary": f"{name} is firing"},
        fingerprint_fields=labels,
    )


@dataclass
class ChatWorld:
    app: FastAPI
    rt: Runtime
    chat: Chat
    http: httpx.AsyncClient

    @classmethod
    @asynccontextmanager
    async def open(
        cls, data: Mapping[str, Any], *, clock: Any = None, install: Any = None
    ) -> AsyncIterator[ChatWorld]:
        settings = Settings.model_validate(data)
        app = create_app(settings, clock=clock or (lambda: NOW))
        rt: Runtime = app.state.runtime
        if install is not None:
            install(app, rt)  # e.g. the paging engine with test notifiers
        chat: Chat = rt.extras["chat"]  # create_app installed it
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://firebell") as http:
                world = cls(app, rt, chat, http)
                yield world
                await world.settle()

    async def submit(self, *alerts: Alert) -> list[int | None]:
        outcome = await self.rt.intake.submit(Submission("alertmanager", list(alerts)))
        return [a.incident_id for a in outcome.alerts]

    async def incident(self, name: str = "HighErrorRate", service: str = "api") -> int:
        (incident_id,) = await self.submit(alert(name, service))
        assert incident_id is not None
        return incident_id

    async def settle(self) -> None:
        """Wait for chat work, including what intake hooks of earlier batches started:
        the writer runs a batch's hooks before it takes the next batch, so an empty
        submission through it is a barrier."""
        await self.rt.intake.submit(Submission("alertmanager", []))
        await self.chat.background.drain()


def store_message(world: ChatWorld, incident_id: int, address: str, ref: str) -> None:
    """A chat message the outbox posted earlier (what the paging worker records)."""
    with world.rt.engine.begin() as conn:
        conn.execute(
            insert(NOTIFICATION).values(
                incident_id=incident_id,
                dedup_key=f"channel:{incident_id}:{address}",
                kind="channel",
                address=address,
                via="route root",
                status="sent",
                created_at=NOW,
                first_due_at=NOW,
                next_attempt_at=NOW,
                sent_at=NOW,
                message_ref=ref,
            )
        )
