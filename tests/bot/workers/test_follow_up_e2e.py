"""End to end with a real `firebell serve` process: an alert that arrives silenced pages
nobody; deleting the silence through the REST API pages the person on call once, with a
timeline entry saying why paging started late.

The process runs on the wall clock, so the test waits for conditions with deadlines; it
never sleeps a fixed time to let something happen (the worker polls every second)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.loopback_http import Reply, start
from tests.support.paging import am_payload
from tests.support.server_process import ServerProcess
from tests.support.waiting import wait_for

JSON = {"content-type": "application/json"}


@pytest.mark.slow
def test_deleting_a_silence_pages_a_held_incident_once(tmp_path: Path) -> None:
    with start(lambda _: Reply.json({})) as sink:
        host = sink.base_url.removeprefix("http://")
        config = f"""
database_url: "sqlite:///{tmp_path}/firebell.db"
users:
  - {{name: alice, contacts: ["json://{host}/alice"]}}
escalation_policies:
  - name: ops
    steps:
      - {{notify: ["user:alice"]}}
route:
  group_wait: 0s
  receiver: {{escalation: ops}}
"""
        with (
            ServerProcess(tmp_path, config) as server,
            httpx.Client(base_url=server.base_url, timeout=10) as client,
        ):

            def kinds() -> list[str]:
                incident = client.get("/api/v1/incidents/1")
                if incident.status_code != 200:
                    return []
                return [t["kind"] for t in incident.json()["timeline"]]

            created = client.post(
                "/api/v1/silences",
                json={"matchers": ['service="checkout"'], "duration": "1h", "comment": "deploy"},
            )
            assert created.status_code == 201, created.text
            silence_id = created.json()["id"]

            accepted = client.post("/webhooks/alertmanager", content=am_payload(), headers=JSON)
            assert accepted.status_code == 202
            wait_for("the incident to be stored, silenced", lambda: "silenced" in kinds())
            # The paging decision commits with the incident: nothing was queued to send.
            assert "routed" not in kinds() and sink.requests == []

            deleted = client.delete(f"/api/v1/silences/{silence_id}")
            assert deleted.status_code == 200, deleted.text

            wait_for("alice's late page", lambda: len(sink.requests) >= 1)
            wait_for("the escalation to finish", lambda: "escalation_done" in kinds())
            # One more poll interval: nothing else may arrive.
            deadline = time.monotonic() + 1.5
            while time.monotonic() < deadline:
                time.sleep(0.05)
                assert len(sink.requests) == 1, server.log()
            timeline: list[dict[str, Any]] = client.get("/api/v1/incidents/1").json()["timeline"]

    assert [r.path for r in sink.requests] == ["/alice"]
    assert "node-7.prod:9100" in sink.requests[0].json()["message"]
    [entry] = [t for t in timeline if t["kind"] == "routed_late"]
    assert entry["message"].startswith(
        f"paging started late: silence {silence_id} was ended early by api at "
    )
    assert entry["message"].endswith("paging with escalation ops (route root)")
    assert [t["kind"] for t in timeline] == [
        "created",
        "silenced",
        "routed_late",
        "escalation_step",
        "escalation_done",
    ]
