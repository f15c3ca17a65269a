"""The whole loop on SQLite and PostgreSQL: Alertmanager webhook -> incident -> Slack message
with buttons (sent by the paging outbox) -> signed Ack click -> incident acknowledged ->
message updated in place -> escalation stopped, nothing more paged."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.workers.paging_worker import PagingWorker, install_paging
from routing.paging.escalation_store import escalations_of
from routing.paging.outbox import notifications_of
from routing.response import incidents
from tests.bot.chat.test_slack import FakeSlack, button_body, signed
from tests.support.chat_harness import NOW, ChatWorld, settings_data, slack_section

AM_PAYLOAD: dict[str, Any] = {
    "version": "4",
    "groupKey": '{}:{alertname="HighErrorRate"}',
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "firebell",
    "groupLabels": {"alertname": "HighErrorRate"},
    "commonLabels": {"alertname": "HighErrorRate", "service": "api", "severity": "critical"},
    "commonAnnotations": {"summary": "5xx above 5%"},
    "externalURL": "http://alertmanager.example:9093",
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "HighErrorRate",
                "service": "api",
                "severity": "critical",
                "instance": "node-1:9100",
            },
            "annotations": {"summary": "5xx above 5%"},
            "startsAt": "2026-03-02T09:58:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.example:9090/graph?g0.expr=x",
            "fingerprint": "c0ffee0000000001",
        }
    ],
}


def test_alert_to_slack_button_to_acknowledged(database_url: str) -> None:
    fake = FakeSlack()
    data = settings_data(
        database_url,
        slack=slack_section(fake.base_url + "/api/"),
        escalation_policies=[
            {
                "name": "ops",
                "steps": [{"notify": ["team:ops"], "wait": "10m"}, {"notify": ["team:ops"]}],
            }
        ],
        route={"receiver": {"escalation": "ops"}},
    )
    workers: list[PagingWorker] = []

    def install(app: Any, rt: Any) -> None:
        workers.append(install_paging(rt, background=False))

    async def go() -> None:
        async with ChatWorld.open(data, install=install) as world:
            (worker,) = workers
            response = await world.http.post("/webhooks/alertmanager", json=AM_PAYLOAD)
            assert response.status_code == 202, response.text
            (item,) = (await world.http.get("/api/v1/incidents")).json()["items"]
            iid = item["id"]

            await worker.run_once(NOW)  # step 1: post to #ops
            (posted,) = fake.calls("/api/chat.postMessage")
            assert posted["channel"] == "#ops"
            actions = next(b for b in posted["blocks"] if b["type"] == "actions")["elements"]
            ack_button = actions[0]
            assert (ack_button["action_id"], ack_button["value"]) == ("incident_ack", str(iid))
            with world.rt.engine.connect() as conn:
                (row,) = notifications_of(conn, iid)
            assert (row["status"], row["message_ref"]) == ("sent", "C0OPS:1700000000.000001")

            form = button_body(fake, "incident_ack", iid, ts="1700000000.000001")
            response = await world.http.post("/slack/events", content=form, headers=signed(form))
            assert response.status_code == 200
            await world.settle()

            (update,) = fake.calls("/api/chat.update")
            assert (update["channel"], update["ts"]) == ("C0OPS", "1700000000.000001")
            assert update["blocks"][0]["text"]["text"].endswith("[ACKNOWLEDGED] 5xx above 5%")
            # The edit keeps the escalation facts of the message it replaces.
            assert "policy ops, step 1 of 2, pass 1 of 1" in update["text"]
            thread = fake.calls("/api/chat.postMessage")[1]
            assert thread == {
                "channel": "C0OPS",
                "thread_ts": "1700000000.000001",
                "text": "acknowledged by alice",
            }
            with world.rt.engine.connect() as conn:
                assert incidents.get_incident(conn, iid)["acknowledged_by"] == "alice"
                (escalation,) = escalations_of(conn, iid)
            assert (escalation["state"], escalation["reason"]) == (
                "stopped",
                "acknowledged by alice",
            )

            # Step 2 would have been due after 10 minutes: nothing more is posted.
            later = NOW.replace(minute=30)
            await worker.run_once(later)
            assert len(fake.calls("/api/chat.postMessage")) == 2

    try:
        asyncio.run(go())
    finally:
        fake.server.close()
