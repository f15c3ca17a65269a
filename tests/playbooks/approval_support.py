"""A firebell app with a playbook whose step waits for approval, for the approval tests
(service, REST, CLI, Slack). The runner (playbooks.runner) is what puts a step into
`awaiting_approval`; these tests write that stored state directly, as the runner's rows
would be, so the decisions are tested on their own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, update

from playbooks import run_store
from playbooks.service import PlaybookService
from routing.storage.timeline import TIMELINE
from tests.support.chat_harness import NOW, ChatWorld, settings_data

PLAYBOOK = """id: deploy
description: an approved deploy
match: ['service="api"']
params:
  ref: {type: string, default: main}
steps:
  - id: hotfix
    uses: chat.post
    with: {text: "deploy {{ params.ref }}"}
    approval: {approvers: ["team:backend", "oncall:primary"], required: 2, expires_in: 45m}
"""
REQUEST_HASH = "a" * 64
TOKENS = {"alice": "alice-token-1", "bob": "bob-token-2", "carol": "carol-token-3",
          "dave": "dave-token-4", "erin": "erin-token-5"}  # fmt: skip
MACHINE_TOKEN = "deploy-bot-token-6"  # a machine's token (responder role): nobody to approve
SLACK_IDS = {"alice": "U0ALICE", "bob": "U0BOB", "carol": "U0CAROL", "dave": "U0DAVE",
             "erin": "U0ERIN"}  # fmt: skip


def approval_settings(database_url: str, folder: Path, **extra: Any) -> dict[str, Any]:
    """alice, bob, carol in team backend; dave and carol take turns on `primary` (daily);
    erin is in neither. Each has a per-person API token."""
    data = settings_data(database_url, **extra)
    data["users"] = [
        {
            "name": name,
            "slack_id": slack_id,
            "discord_id": str(1000 + i),
            "contacts": [f"json://127.0.0.1:9/{name}"],
        }
        for i, (name, slack_id) in enumerate(SLACK_IDS.items(), 1)
    ]
    data["teams"] = [{"name": "backend", "members": ["alice", "bob", "carol"]}]
    data["schedules"] = [
        {"name": "primary", "time_zone": "UTC",
         "layers": [{"rotation": "daily", "members": ["dave", "carol"], "handoff": "09:00"}]}
    ]  # fmt: skip
    data["api_tokens"] = [{"token": token, "user": name} for name, token in TOKENS.items()]
    data["api_tokens"].append({"token": MACHINE_TOKEN, "name": "deploy-bot"})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "deploy.yaml").write_text(PLAYBOOK)
    data["playbooks"] = str(folder)
    return data


def end_expired(engine: Engine, run_id: int) -> None:
    """Leave the run as the runner does when its approval expired: step `expired`, run
    failed and no longer due."""
    with engine.begin() as conn:
        conn.execute(
            update(run_store.STEP).where(run_store.STEP.c.run_id == run_id).values(status="expired")
        )
        conn.execute(
            update(run_store.RUN)
            .where(run_store.RUN.c.id == run_id)
            .values(status="failed", due_at=None)
        )


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class ApprovalWorld:
    chat: ChatWorld
    clock: Clock
    wakes: list[int] = field(default_factory=list)

    @property
    def service(self) -> PlaybookService:
        found: PlaybookService = self.chat.rt.extras["playbook_service"]
        return found

    async def awaiting_run(self, started_by: str = "alice") -> int:
        """A run of `deploy` whose step waits for approval (expiry in 45 minutes)."""
        incident_id = await self.chat.incident()
        run = self.service.start(incident_id, "deploy", {"ref": "v1.2"}, started_by)
        with self.chat.rt.engine.begin() as conn:
            conn.execute(
                update(run_store.STEP)
                .where(run_store.STEP.c.run_id == run["id"])
                .values(
                    status="awaiting_approval",
                    request_hash=REQUEST_HASH,
                    approval_expires_at=self.clock.now + timedelta(minutes=45),
                    request={"method": "POST", "url": "chat://thread", "body": {"text": "x"}},
                )
            )
            conn.execute(
                update(run_store.RUN)
                .where(run_store.RUN.c.id == run["id"])
                # Held, so the app's own worker leaves it alone: its runner is not under test.
                .values(
                    due_at=self.clock.now + timedelta(minutes=36),
                    lease_until=self.clock.now + timedelta(days=30),
                    lease_owner="held-by-the-test",
                )
            )
        self.wakes.clear()  # the start's wake; a test counts the decisions' wakes
        return int(run["id"])

    def run_row(self, run_id: int) -> dict[str, Any]:
        with self.chat.rt.engine.connect() as conn:
            found = run_store.get_run(conn, run_id)
        assert found is not None
        return found

    def timeline(self, kind: str) -> list[dict[str, Any]]:
        with self.chat.rt.engine.connect() as conn:
            rows = conn.execute(
                select(TIMELINE).where(TIMELINE.c.kind == kind).order_by(TIMELINE.c.id)
            ).mappings()
            return [dict(row) for row in rows]


@asynccontextmanager
async def approval_world(
    database_url: str, tmp_path: Path, **extra: Any
) -> AsyncIterator[ApprovalWorld]:
    clock = Clock()
    data = approval_settings(database_url, tmp_path / "playbooks", **extra)
    async with ChatWorld.open(data, clock=clock) as chat:
        world = ApprovalWorld(chat, clock)
        service = world.service
        service.wake = lambda: world.wakes.append(1)  # the worker's loop is not under test
        yield world
