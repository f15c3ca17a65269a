"""End to end in one process, on SQLite and PostgreSQL: an Alertmanager webhook in, apprise
json:// pages out to a loopback sink, escalation when nobody acknowledges, ack via the API.

The app runs with an injected clock and the worker's `run_once(now)` is called directly,
so nothing sleeps; the wake-up test alone runs the real background worker."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient

from bot.roles import create_app
from bot.workers.paging_worker import PagingWorker, RunSummary, install_paging
from integrations.notifiers import DeliveryResult, Notification
from routing.paging.escalation_store import escalations_of
from routing.paging.outbox import notifications_of
from routing.response.incidents import get_incident
from tests.support.loopback_http import LoopbackServer, RecordedRequest, Reply, start
from tests.support.paging import (
    Clock,
    RecordingNotifier,
    am_payload,
    settings_from,
    two_step_config,
)

JSON = {"content-type": "application/json"}


@contextmanager
def paging_app(
    database_url: str,
    sink: LoopbackServer,
    clock: Clock,
    *,
    notifiers: dict[str, Any] | None = None,
    background: bool = False,
    **config: Any,
) -> Iterator[tuple[TestClient, PagingWorker]]:
    settings = settings_from(two_step_config(database_url, sink.base_url, **config))
    app = create_app(settings, clock=clock)
    worker = install_paging(app.state.runtime, notifiers=notifiers, background=background)
    with TestClient(app) as client:
        yield client, worker


def run(client: TestClient, worker: PagingWorker, clock: Clock) -> RunSummary:
    summary: RunSummary = client.portal.call(worker.run_once, clock.now)  # type: ignore[union-attr]
    return summary


def paths(sink: LoopbackServer) -> list[str]:
    return [r.path for r in sink.requests]


def test_alert_in_page_out_then_step_two_when_nobody_acknowledges(database_url: str) -> None:
    clock = Clock()
    with (
        start(lambda _: Reply.json({})) as sink,
        paging_app(database_url, sink, clock) as (
            client,
            worker,
        ),
    ):
        response = client.post("/webhooks/alertmanager", content=am_payload(), headers=JSON)
        assert response.status_code == 202
        run(client, worker, clock)
        assert paths(sink) == ["/alice"]
        page = sink.requests[0].json()
        assert "node-7.prod:9100" in page["message"]  # the alert's `instance` label
        assert "API 5xx above 5% for 10m" in page["message"]  # its `summary` annotation
        assert "step 1 of 2, pass 1 of 1" in page["message"]
        assert "https://runbooks.example.org/5xx" in page["message"]
        assert page["type"] == "failure"  # critical
        clock.advance(minutes=4, seconds=59)
        run(client, worker, clock)
        assert paths(sink) == ["/alice"]
        clock.advance(seconds=1)
        run(client, worker, clock)
        assert paths(sink) == ["/alice", "/bob"]
        assert "step 2 of 2" in sink.requests[1].json()["message"]
        clock.advance(hours=1)
        run(client, worker, clock)
        assert paths(sink) == ["/alice", "/bob"]  # done: no page twice, no page after the end
        incident = client.get("/api/v1/incidents/1").json()
        kinds = [t["kind"] for t in incident["timeline"]]
        assert kinds == [
            "created",
            "routed",
            "escalation_step",
            "escalation_step",
            "escalation_done",
        ]


def test_ack_through_the_api_stops_the_escalation(database_url: str) -> None:
    clock = Clock()
    with (
        start(lambda _: Reply.json({})) as sink,
        paging_app(database_url, sink, clock) as (
            client,
            worker,
        ),
    ):
        client.post("/webhooks/alertmanager", content=am_payload(), headers=JSON)
        run(client, worker, clock)
        clock.advance(minutes=1)
        acked = client.post("/api/v1/incidents/1/ack")
        assert acked.status_code == 200
        clock.advance(minutes=10)
        run(client, worker, clock)
        assert paths(sink) == ["/alice"]
        rt = client.app.state.runtime  # type: ignore[attr-defined]
        with rt.engine.connect() as conn:
            [escalation] = escalations_of(conn, 1)
            timeline = get_incident(conn, 1)["timeline"]
        assert escalation["state"] == "stopped"
        # "acknowledged by alice" when the API stops it in the ack transaction,
        # "incident acknowledged" when the worker finds it acknowledged at the due time.
        stopped = [t["message"] for t in timeline if t["kind"] == "escalation_stopped"]
        assert len(stopped) == 1 and stopped[0].startswith("escalation ops stopped: ")
        assert "acknowledged" in stopped[0]


def test_a_failing_endpoint_is_retried_with_backoff_then_delivered(database_url: str) -> None:
    answers = [Reply.text("down", 500), Reply.json({})]

    def flaky(_: RecordedRequest) -> Reply:
        return answers.pop(0) if len(answers) > 1 else answers[0]

    clock = Clock()
    with start(flaky) as sink, paging_app(database_url, sink, clock) as (client, worker):
        client.post("/webhooks/alertmanager", content=am_payload(), headers=JSON)
        first = run(client, worker, clock)
        assert [outcome for _, outcome in first.delivered] == ["retry"]
        clock.advance(seconds=4)
        assert run(client, worker, clock).delivered == []  # backoff: 5s after the first failure
        clock.advance(seconds=1)
        assert [o for _, o in run(client, worker, clock).delivered] == ["sent"]
        assert paths(sink) == ["/alice", "/alice"]
        rt = client.app.state.runtime  # type: ignore[attr-defined]
        with rt.engine.connect() as conn:
            [row] = notifications_of(conn, 1)
        assert (row["status"], row["attempts"]) == ("sent", 2)
        metrics = client.get("/metrics").text
        assert 'firebell_notifications_total{kind="json",outcome="retry"} 1.0' in metrics
        assert 'firebell_notifications_total{kind="json",outcome="sent"} 1.0' in metrics


def test_a_permanent_failure_is_kept_and_shown_on_the_timeline(database_url: str) -> None:
    notifier = RecordingNotifier([DeliveryResult.permanent("HTTP 404 unknown topic")])
    clock = Clock()
    with (
        start(lambda _: Reply.json({})) as sink,
        paging_app(database_url, sink, clock, notifiers={"json": notifier}) as (client, worker),
    ):
        client.post("/webhooks/alertmanager", content=am_payload(), headers=JSON)
        run(client, worker, clock)
        clock.advance(minutes=5)
        run(client, worker, clock)  # step 2 still pages bob: a failed page does not stop it
        assert [target.rsplit("/", 1)[-1] for target, _ in notifier.sent] == ["alice", "bob"]
        incident = client.get("/api/v1/incidents/1").json()
        failures = [
            t["message"] for t in incident["timeline"] if t["kind"] == "notification_failed"
        ]
        assert failures[0] == "page to alice failed after 1 attempt: HTTP 404 unknown topic"
        rt = client.app.state.runtime  # type: ignore[attr-defined]
        with rt.engine.connect() as conn:
            statuses = {r["status"] for r in notifications_of(conn, 1)}
        assert statuses == {"failed"}
        assert 'outcome="failed"} 2.0' in client.get("/metrics").text
        assert isinstance(notifier.sent[0][1], Notification)


def test_the_intakes_commit_wakes_the_worker_instead_of_its_poll(database_url: str) -> None:
    """Real clock, background worker polling only every minute: every page is handed to
    the notifier within seconds, so it was the intake's commit that woke the worker.
    Latency figures come from benchmarks/paging_latency.py, not from a timed test."""
    handed: dict[int, float] = {}

    class Timing(RecordingNotifier):
        async def send(self, target: str, notification: Any) -> Any:
            handed.setdefault(notification.incident_id, time.perf_counter())
            return DeliveryResult.delivered("ok")

    from bot.runtime.state import utc_now

    with start(lambda _: Reply.json({})) as sink:
        settings = settings_from(two_step_config(database_url, sink.base_url))
        app = create_app(settings, clock=utc_now)
        worker = install_paging(app.state.runtime, notifiers={"json": Timing()})
        worker.poll_interval = 60.0
        accepted: list[int] = []
        with TestClient(app) as client:
            for i in range(20):
                body = am_payload(f"Alert{i}")
                response = client.post("/webhooks/alertmanager", content=body, headers=JSON)
                assert response.status_code == 202
                accepted.append(i + 1)
                deadline = time.perf_counter() + 10
                while i + 1 not in handed and time.perf_counter() < deadline:
                    time.sleep(0.001)  # waiting for the other thread, not for time to pass
                assert i + 1 in handed, f"alert {i} was not paged until the worker's poll"
        assert sorted(handed) == accepted


def test_apprise_target_reaches_a_real_http_endpoint_once_per_page(database_url: str) -> None:
    """Two pages of one step to the same person's two contacts are two requests, once each."""
    clock = Clock()
    with start(lambda _: Reply.json({})) as sink:
        host = sink.base_url.removeprefix("http://")
        extra_contact = two_step_config(database_url, sink.base_url).replace(
            f'contacts: ["json://{host}/alice"]',
            f'contacts: ["json://{host}/alice", "json://{host}/alice-phone"]',
        )
        app = create_app(settings_from(extra_contact), clock=clock)
        worker = install_paging(app.state.runtime, background=False)
        with TestClient(app) as client:
            client.post("/webhooks/alertmanager", content=am_payload(), headers=JSON)
            run(client, worker, clock)
            run(client, worker, clock)
        assert sorted(paths(sink)) == ["/alice", "/alice-phone"]
        assert all(r.headers["content-type"].startswith("application/json") for r in sink.requests)


def test_installing_again_replaces_the_worker_without_doubling_hooks(tmp_path: Any) -> None:
    settings = settings_from(two_step_config(f"sqlite:///{tmp_path}/x.db", "http://127.0.0.1:9"))
    app = create_app(settings, clock=Clock())
    rt = app.state.runtime
    first = install_paging(rt)
    hooks = (len(rt.intake.in_transaction), len(rt.intake.committed))
    second = install_paging(rt, background=False)
    assert rt.extras["paging"] is second and second is not first
    assert (len(rt.intake.in_transaction), len(rt.intake.committed)) == hooks
    assert second.metrics is first.metrics  # one registration per registry


def test_a_quiet_new_incident_is_paged_from_its_ingest_transaction_without_a_pass(
    database_url: str,
) -> None:
    """While paging is quiet the ingest transaction runs the first step and claims its
    pages for this worker (bot.workers.paging_handoff): each page is handed over with no
    paging pass run, and its row is claimed by this worker and stored as sent."""
    handed: list[int] = []

    class Timing(RecordingNotifier):
        async def send(self, target: str, notification: Any) -> Any:
            handed.append(notification.incident_id)
            return DeliveryResult.delivered("ok")

    from bot.runtime.state import utc_now

    with start(lambda _: Reply.json({})) as sink:
        settings = settings_from(two_step_config(database_url, sink.base_url))
        app = create_app(settings, clock=utc_now)
        worker = install_paging(app.state.runtime, notifiers={"json": Timing()})
        worker.poll_interval = 60.0
        paging_passes: list[object] = []  # passes that ran a step or claimed a row
        real_pass = worker._pass

        async def counted(*args: Any) -> Any:
            summary, deliveries = await real_pass(*args)
            if summary.steps or deliveries:
                paging_passes.append(summary)
            return summary, deliveries

        worker._pass = counted  # type: ignore[method-assign]
        with TestClient(app) as client:
            for i in range(5):
                body = am_payload(f"Quiet{i}")
                response = client.post("/webhooks/alertmanager", content=body, headers=JSON)
                assert response.status_code == 202
                deadline = time.perf_counter() + 10
                while i + 1 not in handed and time.perf_counter() < deadline:
                    time.sleep(0.001)  # waiting for the other thread, not for time to pass
                assert i + 1 in handed, f"alert {i} was not paged"
            engine = app.state.runtime.engine

            def rows() -> list[dict[str, Any]]:
                with engine.connect() as conn:
                    return [r for iid in range(1, 6) for r in notifications_of(conn, iid)]

            deadline = time.perf_counter() + 10
            while {r["status"] for r in rows()} != {"sent"} and time.perf_counter() < deadline:
                time.sleep(0.01)  # the results are stored after the send
        assert sorted(handed) == [1, 2, 3, 4, 5]
        assert paging_passes == [], "a paging pass paged a quiet new incident"
        assert {r["claimed_by"] for r in rows()} == {worker.id}
        assert {r["status"] for r in rows()} == {"sent"}
