"""The approval gate with the real runner and worker in the app: the runner asks (the
step waits in awaiting_approval, a stored state), the request appears in the Slack
thread, two signed clicks approve it, and the step then runs; the message ends
"approved by bob, carol"."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from playbooks import run_store
from tests.bot.chat.playbook_world import SLACK_PARENT, FakeApis
from tests.bot.chat.test_approval_slack import approval_posts, click
from tests.playbooks.approval_support import ApprovalWorld, approval_world
from tests.support.chat_harness import slack_section, store_message


async def step_status(w: ApprovalWorld, run_id: int, wanted: set[str]) -> dict[str, Any]:
    for _ in range(500):
        run = w.run_row(run_id)
        if run["steps"][0]["status"] in wanted:
            await w.chat.settle()
            return run
        await asyncio.sleep(0.02)
    raise AssertionError(f"step of run {run_id} never reached {wanted}: {run}")


def test_the_runner_asks_and_two_clicks_let_the_step_run(database_url: str, tmp_path: Path) -> None:
    apis = FakeApis()

    async def go() -> None:
        slack = slack_section(apis.base_url + "/slack/api/")
        async with approval_world(database_url, tmp_path, slack=slack) as w:
            w.service.wake = w.chat.rt.extras["playbook_wake"]  # the real worker, this time
            incident_id = await w.chat.incident()
            store_message(w.chat, incident_id, "slack:#ops", SLACK_PARENT)
            run = w.service.start(incident_id, "deploy", {"ref": "v1.2"}, "alice")
            run = await step_status(w, run["id"], {"awaiting_approval"})
            step = run["steps"][0]
            assert len(step["request_hash"]) == 64
            (posted,) = approval_posts(apis)
            assert "Will send: post in the incident thread: deploy v1.2" in posted["text"]
            value = posted["blocks"][1]["elements"][0]["value"]

            assert (await click(w, apis, "approve", value, "bob")).endswith("(1 of 2 approvals)")
            assert (await click(w, apis, "approve", value, "carol")).endswith("(2 of 2 approvals)")
            run = await step_status(w, run["id"], {"succeeded", "failed"})
            assert run["steps"][0]["status"] == "succeeded", run["steps"][0]
            with w.chat.rt.engine.connect() as conn:
                final = run_store.get_run(conn, run["id"])
            assert final is not None
            last = apis.calls("POST", "/slack/api/chat.update")
            shown = [e for e in last if e["text"].startswith("Approval ")]
            assert shown[-1]["text"].startswith("Approval approved: playbook deploy")
            assert "approved by bob, carol" in shown[-1]["text"].splitlines()[0]
            assert len(shown[-1]["blocks"]) == 1  # no buttons once decided

    try:
        asyncio.run(go())
    finally:
        apis.server.close()
