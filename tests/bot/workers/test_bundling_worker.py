"""Bundling through the paging worker with the clock passed in, on SQLite and PostgreSQL:
the global rule, a user's override and `off`, the window, an acknowledgement taking an
incident out of its bundle, and a new worker (a restarted process) flushing the pages
the previous one held."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.commands.escalation import queue_manual_pages
from bot.roles import create_app
from bot.workers.paging_worker import PagingWorker, install_paging
from integrations.notifiers import Notification, TextMessage
from routing.paging.escalation import Recipient
from routing.paging.escalation_store import cancel_pending_pages
from routing.paging.outbox import NOTIFICATION
from routing.storage.timeline import TIMELINE
from tests.support.paging import Clock, RecordingNotifier, am_storm_payload, settings_from

JSON = {"content-type": "application/json"}


class TextRecorder(RecordingNotifier):
    async def send_text(self, target: str, message: TextMessage) -> Any:
        return await self.send(target, message)


def config(database_url: str, bundle: str, bob: str = "", carol: str = "") -> str:
    return f"""
database_url: "{database_url}"
paging:
  bundle: {bundle}
users:
  - {{name: alice, contacts: ["ntfy://sink/alice"]}}
  - {{name: bob, contacts: ["ntfy://sink/bob"]{bob}}}
  - {{name: carol, contacts: ["ntfy://sink/carol"]{carol}}}
escalation_policies:
  - name: ops
    steps:
      - {{notify: ["user:alice", "user:bob", "user:carol"]}}
route:
  group_wait: 0s
  receiver: {{escalation: ops}}
"""


@contextmanager
def app(
    text: str, clock: Clock, notifier: TextRecorder
) -> Iterator[tuple[TestClient, PagingWorker]]:
    application = create_app(settings_from(text), clock=clock)
    worker = install_paging(
        application.state.runtime, notifiers={"apprise": notifier}, background=False
    )
    with TestClient(application) as client:
        yield client, worker


def run(client: TestClient, worker: PagingWorker, clock: Clock) -> None:
    client.portal.call(worker.run_once, clock.now)  # type: ignore[union-attr]


def storm(client: TestClient, count: int) -> None:
    names = [f"Storm{i:02d}" for i in range(count)]
    response = client.post("/webhooks/alertmanager", content=am_storm_payload(names), headers=JSON)
    assert response.status_code == 202


def to(notifier: TextRecorder, who: str) -> list[Notification | TextMessage]:
    return [message for target, message in notifier.sent if target.endswith("/" + who)]


def bundles(messages: list[Notification | TextMessage]) -> list[str]:
    return [m.title for m in messages if isinstance(m, TextMessage)]


def test_global_rule_user_override_and_off(database_url: str) -> None:
    clock, notifier = Clock(), TextRecorder()
    text = config(
        database_url,
        "{max_pages: 2, window: 10s}",
        bob=", bundle: {max_pages: 1, window: 30s}",
        carol=", bundle: off",
    )
    with app(text, clock, notifier) as (client, worker):
        storm(client, 5)
        run(client, worker, clock)
        assert (len(to(notifier, "alice")), len(to(notifier, "bob"))) == (2, 1)
        assert len(to(notifier, "carol")) == 5 and not bundles(to(notifier, "carol"))
        clock.advance(seconds=9.9)
        run(client, worker, clock)
        assert len(to(notifier, "alice")) == 2  # the window is not over
        clock.advance(seconds=0.1)
        run(client, worker, clock)
        assert bundles(to(notifier, "alice")) == ["[CRITICAL] 3 incidents paged together"]
        assert len(to(notifier, "bob")) == 1  # bob's own window is 30s
        clock.advance(seconds=20)
        run(client, worker, clock)
        assert bundles(to(notifier, "bob")) == ["[CRITICAL] 4 incidents paged together"]
        clock.advance(minutes=5)
        run(client, worker, clock)
        assert len(notifier.sent) == 3 + 2 + 5  # nothing twice
        with client.app.state.runtime.engine.connect() as conn:  # type: ignore[attr-defined]
            kinds = conn.execute(select(TIMELINE.c.kind, TIMELINE.c.message)).all()
    held = [m for k, m in kinds if k == "page_held"]
    bundled = [m for k, m in kinds if k == "page_bundled"]
    assert len(held) == 3 + 4 and len(bundled) == 3 + 4
    assert any("more than 2 pages to this contact within 10s" in m for m in held)
    assert sum("paged bob in a bundle of 4" in m for m in bundled) == 4


def test_an_acknowledged_incident_drops_out_of_its_bundle(database_url: str) -> None:
    clock, notifier = Clock(), TextRecorder()
    text = config(database_url, "{max_pages: 1, window: 10s}", carol=", bundle: off")
    with app(text, clock, notifier) as (client, worker):
        storm(client, 4)  # incidents 1-4: 1 at once, 2-4 held
        run(client, worker, clock)
        assert client.post("/api/v1/incidents/3/ack").status_code == 200
        clock.advance(seconds=10)
        run(client, worker, clock)
        [bundle] = [m for m in to(notifier, "alice") if isinstance(m, TextMessage)]
        assert bundle.title == "[CRITICAL] 2 incidents paged together"
        assert "#2 " in bundle.text and "#4 " in bundle.text and "#3 " not in bundle.text
        with client.app.state.runtime.engine.connect() as conn:  # type: ignore[attr-defined]
            acked = conn.execute(
                select(NOTIFICATION.c.status, NOTIFICATION.c.detail).where(
                    NOTIFICATION.c.incident_id == 3, NOTIFICATION.c.recipient == "alice"
                )
            ).one()
        assert acked.status == "cancelled"


def test_a_bundle_of_one_is_just_the_page(database_url: str) -> None:
    clock, notifier = Clock(), TextRecorder()
    text = config(database_url, "{max_pages: 1, window: 10s}")
    with app(text, clock, notifier) as (client, worker):
        storm(client, 3)
        run(client, worker, clock)
        assert client.post("/api/v1/incidents/2/ack").status_code == 200
        clock.advance(seconds=10)
        run(client, worker, clock)
        alice = to(notifier, "alice")
        assert [type(m) for m in alice] == [Notification, Notification]
        assert [m.incident_id for m in alice if isinstance(m, Notification)] == [1, 3]


def test_a_new_worker_flushes_what_the_previous_one_held(database_url: str) -> None:
    clock, first, second = Clock(), TextRecorder(), TextRecorder()
    text = config(database_url, "{max_pages: 2, window: 5s}")
    with app(text, clock, first) as (client, worker):
        storm(client, 6)
        run(client, worker, clock)
    assert len(to(first, "alice")) == 2  # the process ends with 4 pages held
    clock.advance(seconds=5)
    with app(text, clock, second) as (client, worker):
        run(client, worker, clock)
        run(client, worker, clock)
    assert bundles(to(second, "alice")) == ["[CRITICAL] 4 incidents paged together"]
    assert len(to(second, "alice")) == 1


def test_a_page_by_hand_is_never_held(database_url: str) -> None:
    """alice's contact is over its rule and a bundle is forming, yet a page made by hand
    goes out at once (and the held ones still go out as their bundle)."""
    clock, notifier = Clock(), TextRecorder()
    text = config(database_url, "{max_pages: 1, window: 10s}")
    with app(text, clock, notifier) as (client, worker):
        storm(client, 3)  # incident 1 paged, 2 and 3 held
        run(client, worker, clock)
        assert len(to(notifier, "alice")) == 1
        rt = client.app.state.runtime  # type: ignore[attr-defined]
        alice = rt.settings.users_by_name["alice"]
        by_hand = Recipient("user", "alice", alice.contacts[0].address, "user:alice")
        clock.advance(seconds=1)
        with rt.engine.begin() as conn:
            assert queue_manual_pages(conn, 3, "hand-1", [by_hand], clock.now) == 1
        run(client, worker, clock)
        alice_sent = to(notifier, "alice")
        assert len(alice_sent) == 2 and isinstance(alice_sent[1], Notification)
        assert alice_sent[1].step == "paged by hand" and alice_sent[1].incident_id == 3
        clock.advance(seconds=9)
        run(client, worker, clock)
        assert bundles(to(notifier, "alice")) == ["[CRITICAL] 2 incidents paged together"]


def test_a_silenced_incident_drops_out_of_its_bundle(database_url: str) -> None:
    """The one-step escalation is done once its pages are written, so the silence finds
    no active escalation; its held pages must still be dropped, as pending ones are."""
    clock, notifier = Clock(), TextRecorder()
    text = config(database_url, "{max_pages: 1, window: 10s}")
    with app(text, clock, notifier) as (client, worker):
        storm(client, 4)  # incidents 1-4: 1 at once, 2-4 held
        run(client, worker, clock)
        rt = client.app.state.runtime  # type: ignore[attr-defined]
        with rt.engine.begin() as conn:
            assert cancel_pending_pages(conn, 3, clock.now, "silenced by alice") >= 1
        clock.advance(seconds=10)
        run(client, worker, clock)
        [bundle] = [m for m in to(notifier, "alice") if isinstance(m, TextMessage)]
        assert bundle.title == "[CRITICAL] 2 incidents paged together"
        assert "#2 " in bundle.text and "#4 " in bundle.text and "#3 " not in bundle.text
        with rt.engine.connect() as conn:
            dropped = conn.execute(
                select(NOTIFICATION.c.status, NOTIFICATION.c.detail).where(
                    NOTIFICATION.c.incident_id == 3, NOTIFICATION.c.recipient == "alice"
                )
            ).one()
        assert dropped == ("cancelled", "not sent: silenced by alice")
