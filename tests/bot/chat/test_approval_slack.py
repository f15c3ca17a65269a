"""Approvals in Slack, through the real slack-bolt app: the request posted in the
incident thread with Approve / Reject (what will run, who may, N of M, expiry), signed
clicks decided as the linked firebell user (an unlinked or unpermitted presser is refused
naming who may), idempotent, edited in place, the reminder mentioning the approvers, and
Request again after the expiry."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import update

from playbooks import run_store
from tests.bot.chat.playbook_world import SLACK_PARENT, FakeApis
from tests.bot.chat.test_slack import signed
from tests.playbooks.approval_support import (
    REQUEST_HASH,
    SLACK_IDS,
    ApprovalWorld,
    approval_world,
    end_expired,
)
from tests.support.chat_harness import SLACK_TOKEN, slack_section, store_message

WHO_MAY = "team:backend (bob, carol), oncall:primary (now: carol); not alice, who started the run"


def press(apis: FakeApis, action_id: str, value: str, user_id: str) -> str:
    """A block_actions payload as Slack sends it for a press on the approval message."""
    payload = {
        "type": "block_actions",
        "user": {"id": user_id, "username": "someone", "name": "someone", "team_id": "T111"},
        "api_app_id": "A111",
        "token": "verification_token",
        "container": {"type": "message", "message_ts": "1700000000.000101",
                      "channel_id": "C0OPS", "is_ephemeral": False},
        "trigger_id": "111.222.valid",
        "team": {"id": "T111", "domain": "workspace-domain"},
        "channel": {"id": "C0OPS", "name": "ops"},
        "response_url": f"{apis.base_url}/respond/actions/T111/1/abc",
        "actions": [{"action_id": action_id, "block_id": "approval:1", "value": value,
                     "text": {"type": "plain_text", "text": "Approve"}, "type": "button",
                     "action_ts": "1700000001.000100"}],
    }  # fmt: skip
    return urlencode({"payload": json.dumps(payload)})


async def click(w: ApprovalWorld, apis: FakeApis, action: str, value: str, who: str) -> str:
    form = press(apis, f"playbook_{action}", value, SLACK_IDS.get(who, who))
    response = await w.chat.http.post("/slack/events", content=form, headers=signed(form))
    assert response.status_code == 200
    await w.chat.settle()
    answer = apis.responses()[-1]
    assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
    text: str = answer["text"]
    return text


async def changed(w: ApprovalWorld, run_id: int) -> None:
    """What the runner does after each change of the run."""
    w.chat.rt.extras["playbook_progress"](run_id)
    await w.chat.settle()


def approval_posts(apis: FakeApis) -> list[dict[str, Any]]:
    posts = apis.calls("POST", "/slack/api/chat.postMessage")
    return [p for p in posts if p["text"].startswith("Approval")]


def test_the_request_in_the_thread_and_clicks_decided_as_the_linked_user(
    database_url: str, tmp_path: Path
) -> None:
    apis = FakeApis()

    async def go() -> None:
        slack = slack_section(apis.base_url + "/slack/api/")
        async with approval_world(database_url, tmp_path, slack=slack) as w:
            run_id = await w.awaiting_run(started_by="alice")
            incident_id = w.run_row(run_id)["incident_id"]
            store_message(w.chat, incident_id, "slack:#ops", SLACK_PARENT)
            with w.chat.rt.engine.begin() as conn:  # a secret the request should never hold
                conn.execute(
                    update(run_store.STEP)
                    .where(run_store.STEP.c.run_id == run_id)
                    .values(request={"method": "POST", "url": "chat://thread",
                                     "body": {"text": "x", "auth": SLACK_TOKEN}})
                )  # fmt: skip
            await changed(w, run_id)

            (posted,) = approval_posts(apis)
            assert SLACK_TOKEN not in json.dumps(posted) and "***" in posted["text"]
            assert posted["thread_ts"] == SLACK_PARENT.split(":")[1]
            lines = posted["text"].splitlines()
            assert lines[0] == (
                f"Approval needed: playbook deploy, step hotfix (run #{run_id}, started by alice)"
            )
            assert lines[1] == 'Will send: POST chat://thread body {"auth": "***", "text": "x"}'
            assert f"Who may approve: {WHO_MAY}" in lines
            assert "Approvals: 0 of 2" in lines and "Expires 2026-03-02 10:45 UTC" in lines
            section, actions = posted["blocks"]
            assert section["text"]["text"] == posted["text"]
            value = f"{run_id}:hotfix:{REQUEST_HASH[:12]}"
            assert [(b["action_id"], b["value"]) for b in actions["elements"]] == [
                ("playbook_approve", value), ("playbook_reject", value)
            ]  # fmt: skip
            await changed(w, run_id)
            assert len(approval_posts(apis)) == 1  # posted once, edited afterwards

            text = await click(w, apis, "approve", value, "U0STRANGER")
            assert "linked to none" in text and text.endswith(f"who may: {WHO_MAY}")
            text = await click(w, apis, "approve", value, "erin")
            assert text == f"erin may not approve this step; who may: {WHO_MAY}"
            text = await click(w, apis, "approve", value, "alice")
            assert text.startswith("alice started this run and cannot decide its approval")
            assert w.timeline("playbook_approval") == []

            text = await click(w, apis, "approve", value, "bob")
            assert text == f"step hotfix of run {run_id}: approved by bob (1 of 2 approvals)"
            text = await click(w, apis, "approve", value, "bob")
            assert text.endswith("already approved by you (1 of 2 approvals)")
            stale = f"{run_id}:hotfix:{'b' * 12}"
            text = await click(w, apis, "approve", stale, "carol")
            assert "shows an earlier request, voided since" in text
            (entry,) = w.timeline("playbook_approval")
            assert (entry["actor"], entry["data"]["surface"]) == ("bob", "slack")

            updates = apis.calls("POST", "/slack/api/chat.update")
            edits = [u for u in updates if u["text"].startswith("Approval")]
            assert "Approvals: 1 of 2 (bob)" in edits[-1]["text"].splitlines()
            ref = w.run_row(run_id)["chat_refs"][f"approval:hotfix:slack:{SLACK_PARENT}"]
            assert {(e["channel"], e["ts"]) for e in edits} == {tuple(ref.split(":"))}

            # The reminder: once, mentioning those who may still approve.
            with w.chat.rt.engine.begin() as conn:
                conn.execute(
                    update(run_store.STEP)
                    .where(run_store.STEP.c.run_id == run_id)
                    .values(reminded_at=w.clock.now)
                )
            await changed(w, run_id)
            await changed(w, run_id)
            posts = apis.calls("POST", "/slack/api/chat.postMessage")
            reminders = [p for p in posts if p["text"].startswith("Reminder")]
            assert len(reminders) == 1
            assert reminders[0]["text"].endswith("before 10:45 UTC: <@U0CAROL>")

            # Expired: the message says so, and Request again starts a new run as the presser.
            end_expired(w.chat.rt.engine, run_id)
            await changed(w, run_id)
            updates = apis.calls("POST", "/slack/api/chat.update")
            last = [u for u in updates if u["text"].startswith("Approval")][-1]
            assert last["text"].startswith("Approval expired: nobody approved in time")
            (actions,) = last["blocks"][1:]
            assert [b["action_id"] for b in actions["elements"]] == ["playbook_again"]
            text = await click(w, apis, "again", value, "U0STRANGER")
            assert "not linked" in text
            text = await click(w, apis, "again", value, "bob")
            assert text == f"started playbook deploy again as run #{run_id + 1} (bob)"
            assert w.run_row(run_id + 1)["started_by"] == "bob"
            text = await click(w, apis, "again", value, "carol")  # a second press
            assert text == f"playbook deploy was asked again already: run #{run_id + 1} (bob)"

    try:
        asyncio.run(go())
    finally:
        apis.server.close()
