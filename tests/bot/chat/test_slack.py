"""Slack through the real slack-bolt app over HTTP: signed slash commands and buttons, with the
Web API and response_url answered by a recording loopback server that checks the bodies."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest
from slack_sdk.signature import SignatureVerifier

from bot.commands import slack_actor
from routing.intake.alert import AlertStatus
from routing.response import incidents
from tests.support.chat_harness import (
    ALICE_SLACK,
    SIGNING_SECRET,
    SLACK_TOKEN,
    ChatWorld,
    alert,
    settings_data,
    slack_section,
    store_message,
)
from tests.support.loopback_http import LoopbackServer, RecordedRequest, Reply, start
from tests.support.paths import SHARED_FIXTURES


class FakeSlack:
    """Slack's Web API (chat.postMessage / chat.update) and response_url endpoints."""

    def __init__(self) -> None:
        self.server: LoopbackServer = start(self.handle)
        self.base_url = self.server.base_url
        self._ts = 0
        self._lock = threading.Lock()

    def handle(self, request: RecordedRequest) -> Reply:
        if request.path.startswith("/respond/"):
            body = request.json()
            assert isinstance(body.get("text"), str) and body["text"], body
            return Reply.text("ok")
        assert request.headers["authorization"] == f"Bearer {SLACK_TOKEN}"
        body = _web_api_body(request)
        if request.path == "/api/chat.postMessage":
            assert body["channel"] and body["text"], body
            with self._lock:
                self._ts += 1
                ts = f"1700000000.{self._ts:06d}"
            channel = "C0OPS" if body["channel"] == "#ops" else body["channel"]
            return Reply.json({"ok": True, "channel": channel, "ts": ts})
        if request.path == "/api/chat.update":
            # Slack's chat.update needs channel and ts, and one of blocks, text or attachments.
            assert body["channel"] and body["ts"], body
            assert body.get("blocks") or body.get("text") or body.get("attachments"), body
            return Reply.json({"ok": True, "channel": body["channel"], "ts": body["ts"]})
        return Reply.json({"ok": False, "error": "unknown_method"})

    def calls(self, path: str) -> list[dict[str, Any]]:
        return [_web_api_body(r) for r in self.server.requests if r.path == path]

    def responses(self) -> list[dict[str, Any]]:
        return [r.json() for r in self.server.requests if r.path.startswith("/respond/")]


def _web_api_body(request: RecordedRequest) -> dict[str, Any]:
    if request.headers.get("content-type", "").startswith("application/json"):
        data: dict[str, Any] = request.json()
        return data
    return {k: v[0] for k, v in parse_qs(request.text()).items()}


def signed(body: str, timestamp: int | None = None, secret: str = SIGNING_SECRET) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature or "",
    }


def slash_body(fake: FakeSlack, text: str, user_id: str = ALICE_SLACK) -> str:
    return urlencode(
        {
            "token": "verification_token",
            "team_id": "T111",
            "team_domain": "test",
            "channel_id": "C0OPS",
            "channel_name": "ops",
            "user_id": user_id,
            "user_name": "alice" if user_id == ALICE_SLACK else "mallory",
            "command": "/incident",
            "text": text,
            "response_url": f"{fake.base_url}/respond/commands/T111/1/xyz",
            "trigger_id": "111.111.xxx",
        }
    )


def button_body(
    fake: FakeSlack,
    action_id: str,
    incident_id: int,
    *,
    user_id: str = ALICE_SLACK,
    channel: str = "C0OPS",
    ts: str = "1700000000.000001",
    ephemeral: bool = False,
) -> str:
    payload = {
        "type": "block_actions",
        "user": {"id": user_id, "username": "alice", "name": "alice", "team_id": "T111"},
        "api_app_id": "A111",
        "token": "verification_token",
        "container": {
            "type": "message",
            "message_ts": ts,
            "channel_id": channel,
            "is_ephemeral": ephemeral,
        },
        "trigger_id": "111.222.valid",
        "team": {"id": "T111", "domain": "workspace-domain"},
        "channel": {"id": channel, "name": "ops"},
        "response_url": f"{fake.base_url}/respond/actions/T111/1/abc",
        "actions": [
            {
                "action_id": action_id,
                "block_id": f"incident:{incident_id}",
                "text": {"type": "plain_text", "text": "Acknowledge", "emoji": True},
                "value": str(incident_id),
                "type": "button",
                "action_ts": "1700000001.000100",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


World = Callable[[ChatWorld, FakeSlack], Awaitable[None]]


def in_world(tmp_path: Path, body: World, database_url: str | None = None, **slack: Any) -> None:
    fake = FakeSlack()
    url = database_url or f"sqlite:///{tmp_path}/slack.db"
    if database_url is None:
        from routing.storage.migrate import upgrade

        upgrade(url)
    data = settings_data(url, slack=slack_section(fake.base_url + "/api/", **slack))

    async def go() -> None:
        async with ChatWorld.open(data) as world:
            await body(world, fake)

    try:
        asyncio.run(go())
    finally:
        fake.server.close()


def test_slash_command_changes_the_incident_and_answers_in_channel(tmp_path: Path) -> None:
    async def body(world: ChatWorld, fake: FakeSlack) -> None:
        iid = await world.incident()
        text = slash_body(fake, f"ack {iid}")
        response = await world.http.post("/slack/events", content=text, headers=signed(text))
        assert response.status_code == 200  # the ack, before any work
        await world.settle()
        assert fake.responses() == [
            {
                "text": f"Incident #{iid} acknowledged by alice · HighErrorRate on api",
                "response_type": "in_channel",
            }
        ]
        with world.rt.engine.connect() as conn:
            assert incidents.get_incident(conn, iid)["acknowledged_by"] == "alice"

    in_world(tmp_path, body)


def test_read_commands_and_errors_answer_only_the_caller(tmp_path: Path) -> None:
    async def body(world: ChatWorld, fake: FakeSlack) -> None:
        iid = await world.incident()
        for text in ("list", "ack", f"ack {iid}"):
            user = ALICE_SLACK if text != f"ack {iid}" else "U0STRANGER"
            form = slash_body(fake, text, user)
            response = await world.http.post("/slack/events", content=form, headers=signed(form))
            assert response.status_code == 200
            await world.settle()
        listing, usage, denied = fake.responses()
        assert listing["response_type"] == "ephemeral"
        assert listing["text"].startswith("Open incidents:\n#1 [critical] triggered · api")
        assert usage == {
            "text": "ack needs an incident id: /incident ack 42",
            "response_type": "ephemeral",
        }
        assert denied["response_type"] == "ephemeral"
        assert denied["text"].startswith(
            "you are not linked to a firebell user (slack id U0STRANGER)"
        )
        with world.rt.engine.connect() as conn:
            assert incidents.get_incident(conn, iid)["status"] == "triggered"

    in_world(tmp_path, body)


def test_bad_signature_and_stale_timestamp_are_refused(tmp_path: Path) -> None:
    async def body(world: ChatWorld, fake: FakeSlack) -> None:
        iid = await world.incident()
        form = slash_body(fake, f"ack {iid}")
        forged = signed(form, secret="not-the-secret")
        assert (
            await world.http.post("/slack/events", content=form, headers=forged)
        ).status_code == 401
        stale = signed(form, timestamp=int(time.time()) - 6 * 60)
        assert (
            await world.http.post("/slack/events", content=form, headers=stale)
        ).status_code == 401
        tampered = signed(form)
        changed = form.replace("ack", "resolve")
        response = await world.http.post("/slack/events", content=changed, headers=tampered)
        assert response.status_code == 401
        await world.settle()
        assert fake.server.requests == []
        with world.rt.engine.connect() as conn:
            assert incidents.get_incident(conn, iid)["status"] == "triggered"

    in_world(tmp_path, body)


def test_ack_button_updates_the_message_in_place_and_notes_the_thread(tmp_path: Path) -> None:
    async def body(world: ChatWorld, fake: FakeSlack) -> None:
        iid = await world.incident()
        form = button_body(fake, "incident_ack", iid, ts="1700000000.000042")
        response = await world.http.post("/slack/events", content=form, headers=signed(form))
        assert response.status_code == 200
        await world.settle()
        (update,) = fake.calls("/api/chat.update")
        assert (update["channel"], update["ts"]) == ("C0OPS", "1700000000.000042")
        assert update["blocks"][0]["text"]["text"].endswith("[ACKNOWLEDGED] HighErrorRate on api")
        buttons = next(b for b in update["blocks"] if b["type"] == "actions")["elements"]
        # Acknowledged: no Ack button any more, the rest stay, each carrying the id.
        assert [b["action_id"] for b in buttons] == [
            "incident_resolve", "incident_silence_1h", "incident_run_playbook",
        ]  # fmt: skip
        assert {b["value"] for b in buttons} == {str(iid)}
        assert "acknowledged by alice" in update["text"]
        (thread,) = fake.calls("/api/chat.postMessage")
        assert thread == {
            "channel": "C0OPS",
            "thread_ts": "1700000000.000042",
            "text": "acknowledged by alice",
        }
        assert fake.responses() == []  # nothing ephemeral on success

    in_world(tmp_path, body)


def test_button_errors_are_ephemeral_and_change_nothing(tmp_path: Path) -> None:
    async def body(world: ChatWorld, fake: FakeSlack) -> None:
        iid = await world.incident()
        for form in (
            button_body(fake, "incident_resolve", iid, user_id="U0STRANGER"),
            button_body(fake, "incident_run_playbook", iid),
        ):
            await world.http.post("/slack/events", content=form, headers=signed(form))
            await world.settle()
        denied, playbook = fake.responses()
        assert denied["response_type"] == "ephemeral" and denied["replace_original"] is False
        assert "not resolve" in denied["text"]
        assert playbook["text"] == (
            f"no playbooks are configured, so there is nothing to run for incident #{iid}"
        )
        assert fake.calls("/api/chat.update") == []
        with world.rt.engine.connect() as conn:
            assert incidents.get_incident(conn, iid)["status"] == "triggered"

    in_world(tmp_path, body)


def test_silence_button_silences_the_group_for_an_hour(tmp_path: Path) -> None:
    async def body(world: ChatWorld, fake: FakeSlack) -> None:
        iid = await world.incident()
        form = button_body(fake, "incident_silence_1h", iid)
        await world.http.post("/slack/events", content=form, headers=signed(form))
        await world.settle()
        (thread,) = fake.calls("/api/chat.postMessage")
        assert thread["text"].startswith(
            'alice silenced alertname="HighErrorRate",service="api" for 1h'
        )
        response = await world.http.get("/api/v1/silences")
        (item,) = [s for s in response.json()["items"] if s["origin"] == "api"]
        assert item["ends_at"] == "2026-03-02T11:00:00+00:00"
        assert item["comment"] == "silenced from slack"

    in_world(tmp_path, body)


def test_changes_from_any_surface_update_posted_messages(tmp_path: Path) -> None:
    async def body(world: ChatWorld, fake: FakeSlack) -> None:
        iid = await world.incident()
        store_message(world, iid, "slack:#ops", "C0OPS:1700000000.000007")
        # No api_tokens (loopback only): the API is open, and its writes say "api".
        response = await world.http.post(f"/api/v1/incidents/{iid}/ack")
        assert response.status_code == 200
        await world.settle()
        (update,) = fake.calls("/api/chat.update")
        assert update["ts"] == "1700000000.000007"
        assert "acknowledged by api" in update["text"]

        # The last alert resolving resolves the incident: the message follows.
        await world.submit(alert(status=AlertStatus.RESOLVED))
        await world.settle()
        updates = fake.calls("/api/chat.update")
        assert len(updates) == 2
        assert updates[1]["blocks"][0]["text"]["text"].startswith(":white_check_mark:")
        assert not [b for b in updates[1]["blocks"] if b["type"] == "actions"]
        threads = [c["text"] for c in fake.calls("/api/chat.postMessage")]
        assert threads == ["acknowledged by api", "all alerts resolved: incident resolved"]

    in_world(tmp_path, body)


def test_slack_ids_map_to_users() -> None:
    from bot.config import Settings

    settings = Settings.model_validate(settings_data("sqlite:///:memory:"))
    assert slack_actor(settings, ALICE_SLACK, "al").user == "alice"
    unknown = slack_actor(settings, "U0NOBODY", "nobody")
    assert (unknown.user, unknown.name) == (None, "slack:nobody")


@pytest.mark.skipif(
    not (SHARED_FIXTURES / "slack").is_dir(),
    reason="shared Slack fixtures not present",
)
def test_slack_s_published_signature_vector_verifies() -> None:
    folder = SHARED_FIXTURES / "slack"
    vector = json.loads((folder / "slash_command_signed_docs_vector.json").read_text())
    headers = vector["headers"]
    expected = SignatureVerifier(vector["signing_secret"]).generate_signature(
        timestamp=headers["X-Slack-Request-Timestamp"], body=vector["body"]
    )
    assert expected == headers["X-Slack-Signature"]
