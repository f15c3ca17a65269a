"""kill -9 in the middle of an alert storm, on SQLite and PostgreSQL: clients post
Alertmanager webhooks from several threads into a real `firebell serve` that pages
through apprise to a loopback sink; the process is killed with SIGKILL while requests are
in flight and restarted on the same database. Every alert that was answered 2xx is
stored, and no incident is paged twice, before or after the crash."""

from __future__ import annotations

import itertools
import re
import threading
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select

from routing.paging.escalation_store import NOTIFICATION
from routing.paging.outbox import ALERT
from routing.storage.database import make_engine
from tests.support.loopback_http import LoopbackServer, Reply, start
from tests.support.server_process import ServerProcess
from tests.support.waiting import wait_for
from tests.support.webhook_payloads import am_alert, am_webhook

pytestmark = pytest.mark.slow

INCIDENTS = 12  # alertnames: every alert joins one of these incidents
CLIENTS = 4
ALERTS_PER_POST = 5
KILL_AFTER = 150  # acknowledged alerts; the clients keep posting until the kill


def config(database_url: str, sink: LoopbackServer) -> str:
    host = sink.base_url.removeprefix("http://")
    return f"""
database_url: "{database_url}"
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


class Storm:
    """Client threads posting distinct alerts until the server goes away."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.acknowledged: set[str] = set()  # instance labels of alerts answered 2xx
        self.cut_off = 0  # requests that got no answer: the kill hit them
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._post, args=(n,)) for n in range(CLIENTS)]

    def _post(self, client: int) -> None:
        with httpx.Client(base_url=self.base_url, timeout=30) as http:
            for n in itertools.count():
                instances = [f"c{client}-{n}-{j}" for j in range(ALERTS_PER_POST)]
                alerts = [
                    am_alert(f"Storm{(n * ALERTS_PER_POST + j) % INCIDENTS}", instance=instance)
                    for j, instance in enumerate(instances)
                ]
                try:
                    response = http.post(
                        "/webhooks/alertmanager",
                        content=am_webhook(alerts),
                        headers={"Content-Type": "application/json"},
                    )
                except httpx.HTTPError:
                    with self._lock:
                        self.cut_off += 1
                    return
                if response.is_success:
                    with self._lock:
                        self.acknowledged.update(instances)

    def count(self) -> int:
        with self._lock:
            return len(self.acknowledged)


def stored_instances(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return {labels["instance"] for labels in conn.execute(select(ALERT.c.labels)).scalars()}


def pages_left_to_send(engine: Engine, dead_pid: int) -> int:
    """Pages not yet sent, except those the killed process had claimed: their claim runs
    out only after a minute, and the outbox then sends them (at least once)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(NOTIFICATION.c.claimed_by).where(NOTIFICATION.c.status == "pending")
        ).scalars()
        return sum(1 for by in rows if not (by and by.split(":")[1] == str(dead_pid)))


def test_every_acknowledged_alert_survives_kill_9_mid_storm_and_none_is_paged_twice(
    database_url: str, tmp_path: Path
) -> None:
    engine = make_engine(database_url)
    with start(lambda _: Reply.json({})) as sink:
        server = ServerProcess(tmp_path, config(database_url, sink)).start()
        try:
            storm = Storm(server.base_url)
            for thread in storm.threads:
                thread.start()
            wait_for("the storm to be acknowledged", lambda: storm.count() >= KILL_AFTER, 60)
            assert server.proc is not None
            dead_pid = server.proc.pid
            server.kill()  # SIGKILL while every client has a request in flight
            for thread in storm.threads:
                thread.join(timeout=30)
            assert storm.cut_off == CLIENTS, "the kill must hit the storm mid-way"

            server.start()  # the same database, a new process
            missing = storm.acknowledged - stored_instances(engine)
            assert not missing, f"{len(missing)} acknowledged alerts lost: {sorted(missing)[:5]}"
            wait_for("the restarted process to send the due pages",
                     lambda: pages_left_to_send(engine, dead_pid) == 0, 30)  # fmt: skip
        finally:
            server.stop()
            engine.dispose()
    paged = Counter(incident_paged(request.json()["message"]) for request in sink.requests)
    assert paged, "paging must have run"
    assert max(paged.values()) == 1, f"paged twice: {paged.most_common(3)}"
    assert len(paged) <= INCIDENTS


def incident_paged(message: str) -> int:
    """The incident a page is about, from its acknowledgement hint."""
    found = re.search(r"/api/v1/incidents/(\d+)/ack", message)
    assert found, message
    return int(found.group(1))
