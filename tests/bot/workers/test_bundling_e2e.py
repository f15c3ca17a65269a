"""Bundling in a pager storm, end to end with a real `firebell serve` and a loopback
sink, on SQLite and PostgreSQL: 20 new incidents at once for one contact with
`max_pages: 5` -> 5 pages at once, the other 15 in a bundle when the window closes,
each on its incident's timeline; a contact with `every_page: true` gets all 20."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from routing.paging.bundle_store import KIND as BUNDLE_KIND
from routing.paging.outbox import NOTIFICATION
from routing.storage.database import make_engine
from routing.storage.timeline import TIMELINE
from tests.support.loopback_http import LoopbackServer, RecordedRequest, Reply, start
from tests.support.paging import am_storm_payload
from tests.support.server_process import ServerProcess
from tests.support.waiting import wait_for

WINDOW = 3.0
PUBLIC = "https://firebell.example.org"


def config(database_url: str, sink: LoopbackServer, bundle: str) -> str:
    host = sink.base_url.removeprefix("http://")
    return f"""
database_url: "{database_url}"
public_url: {PUBLIC}
paging:
  bundle: {bundle}
users:
  - name: alice
    contacts:
      - "json://{host}/alice"
      - {{url: "json://{host}/alice-every", every_page: true}}
escalation_policies:
  - name: ops
    steps:
      - {{notify: ["user:alice"]}}
route:
  group_wait: 0s
  receiver: {{escalation: ops}}
"""


def names(count: int) -> list[str]:
    return [f"Storm{i:02d}" for i in range(count)]


def bodies(sink: LoopbackServer, path: str) -> list[RecordedRequest]:
    return [r for r in sink.requests if r.path == path]


@pytest.mark.slow
def test_a_storm_of_20_pages_is_5_at_once_then_one_bundle(
    database_url: str, tmp_path: Path
) -> None:
    with start(lambda _: Reply.json({})) as sink:
        text = config(database_url, sink, f"{{max_pages: 5, window: {WINDOW:.0f}s}}")
        with ServerProcess(tmp_path, text) as server:
            sent = time.monotonic()
            response = httpx.post(
                server.base_url + "/webhooks/alertmanager",
                content=am_storm_payload(names(20)),
                headers={"content-type": "application/json"},
            )
            assert response.status_code == 202, response.text
            wait_for("20 pages to alice-every", lambda: len(bodies(sink, "/alice-every")) == 20)
            wait_for("5 pages and a bundle to alice", lambda: len(bodies(sink, "/alice")) >= 6)
            bundle_after = time.monotonic() - sent
            time.sleep(0.5)  # nothing else may arrive (the worker polls twice meanwhile)
            log = server.log()
        alice = bodies(sink, "/alice")
        titles = [r.json()["title"] for r in alice]
        assert len(alice) == 6, (titles, log)
        singles = [r for r in alice if "paged together" not in r.json()["title"]]
        [bundle] = [r.json() for r in alice if "paged together" in r.json()["title"]]
        assert len(singles) == 5, titles
        assert bundle["title"] == "[CRITICAL] 15 incidents paged together"
        # The bundle waited for the window, not much longer (the worker wakes for it).
        assert WINDOW - 0.5 <= bundle_after <= WINDOW + 2.5
        paged = [n for r in singles for n in names(20) if n in r.json()["message"]]
        bundled = [n for n in names(20) if n in bundle["message"]]
        assert sorted(paged + bundled) == names(20)  # each incident once, alone or bundled
        assert len(bundled) == 15 and f"{PUBLIC}/incidents/" in bundle["message"]

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            notes = conn.execute(
                select(TIMELINE.c.incident_id, TIMELINE.c.message).where(
                    TIMELINE.c.kind == "page_bundled"
                )
            ).all()
            bundle_rows = conn.execute(
                select(NOTIFICATION.c.status).where(NOTIFICATION.c.kind == BUNDLE_KIND)
            ).scalars()
            assert list(bundle_rows) == ["sent"]
    finally:
        engine.dispose()
    assert len({incident for incident, _ in notes}) == 15
    assert all("paged alice in a bundle of 15 (contact json://" in m for _, m in notes)
    assert all("/alice" not in m for _, m in notes)  # the contact's path is redacted


@pytest.mark.slow
def test_bundle_off_pages_every_incident_alone(database_url: str, tmp_path: Path) -> None:
    with start(lambda _: Reply.json({})) as sink:
        with ServerProcess(tmp_path, config(database_url, sink, "off")) as server:
            response = httpx.post(
                server.base_url + "/webhooks/alertmanager",
                content=am_storm_payload(names(8)),
                headers={"content-type": "application/json"},
            )
            assert response.status_code == 202
            wait_for("8 pages to alice", lambda: len(bodies(sink, "/alice")) == 8)
            time.sleep(0.5)
        assert len(bodies(sink, "/alice")) == 8
        assert all("paged together" not in r.json()["title"] for r in bodies(sink, "/alice"))
