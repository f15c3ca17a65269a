"""A flapping alert, end to end on SQLite and PostgreSQL: Alertmanager webhooks in, apprise
json:// pages out to a loopback sink. The reopen that flags it flapping pages once and says
so; later reopens are recorded, not paged; after grouping.flap_quiet without a flip the
flag lifts and a reopen pages again."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.bot.workers.test_paging_e2e import JSON, paging_app, paths, run
from tests.support.loopback_http import Reply, start
from tests.support.paging import Clock, am_payload

GROUPING = "grouping: {reopen_window: 2h, flap_flips: 3, flap_quiet: 10m}"


def flip(client: TestClient, status: str) -> None:
    response = client.post(
        "/webhooks/alertmanager", content=am_payload(status=status), headers=JSON
    )
    assert response.status_code == 202, response.text


def incident(client: TestClient) -> dict[str, Any]:
    body: dict[str, Any] = client.get("/api/v1/incidents/1").json()
    return body


def test_reopens_of_a_flapping_alert_are_recorded_not_paged_until_quiet(
    database_url: str,
) -> None:
    clock = Clock()
    with (
        start(lambda _: Reply.json({})) as sink,
        paging_app(database_url, sink, clock, extra=GROUPING) as (client, worker),
    ):
        flip(client, "firing")
        run(client, worker, clock)
        assert paths(sink) == ["/alice"]
        for _ in range(2):  # resolve, fire again: the second reopen makes it flapping
            clock.advance(minutes=1)
            flip(client, "resolved")
            clock.advance(minutes=1)
            flip(client, "firing")
            run(client, worker, clock)
        assert paths(sink) == ["/alice"] * 3
        assert "[flapping" not in sink.requests[1].json()["message"]
        assert "[flapping" in sink.requests[2].json()["message"]  # the first page says so

        for _ in range(3):  # flapping: each reopen is recorded, nobody is paged
            clock.advance(minutes=1)
            flip(client, "resolved")
            clock.advance(minutes=1)
            flip(client, "firing")
            run(client, worker, clock)
        assert paths(sink) == ["/alice"] * 3
        shown = incident(client)
        assert shown["status"] == "triggered"
        [alert] = shown["alerts"]
        assert alert["flapping"] is True and alert["flapping_until"] is not None
        reopened = [t for t in shown["timeline"] if t["kind"] == "reopened"]
        assert len(reopened) == 5
        assert all("flapping" in t["message"] for t in reopened[2:])
        held = [t for t in shown["timeline"] if t["kind"] == "flapping_not_paged"]
        assert len(held) == 3 and "flapping" in held[0]["message"]

        # Quiet for longer than flap_quiet (10m): the flag lifts, the next reopen pages.
        clock.advance(minutes=1)
        flip(client, "resolved")
        clock.advance(minutes=11)
        flip(client, "firing")
        run(client, worker, clock)
        assert paths(sink) == ["/alice"] * 4
        assert "[flapping" not in sink.requests[3].json()["message"]
        [alert] = incident(client)["alerts"]
        assert alert["flapping"] is False


def test_flap_quiet_is_measured_from_the_last_flip(database_url: str) -> None:
    """A flip inside the quiet period restarts it: resolving 9 minutes after the last
    reopen and firing again 2 minutes later is still flapping (11 minutes after the
    reopen, but 2 after the latest flip)."""
    clock = Clock()
    with (
        start(lambda _: Reply.json({})) as sink,
        paging_app(database_url, sink, clock, extra=GROUPING) as (client, worker),
    ):
        flip(client, "firing")
        for _ in range(2):
            clock.advance(minutes=1)
            flip(client, "resolved")
            clock.advance(minutes=1)
            flip(client, "firing")
        run(client, worker, clock)
        sent = len(sink.requests)
        clock.advance(minutes=9)
        flip(client, "resolved")
        clock.advance(minutes=2)
        flip(client, "firing")
        run(client, worker, clock)
        assert len(sink.requests) == sent
        assert incident(client)["alerts"][0]["flapping"] is True
        # No flip for flap_quiet: the API shows the flag lifted, as paging reads it,
        # though the stored flag stays until the next flip.
        clock.advance(minutes=11)
        [alert] = incident(client)["alerts"]
        assert alert["flapping"] is False and alert["flapping_until"] is None
        listed = client.get("/api/v1/alerts").json()["items"]
        assert [a["flapping"] for a in listed] == [False]


def test_a_flapping_alert_in_an_open_incident_is_shown_on_its_timeline(
    database_url: str,
) -> None:
    """Another alert keeps the incident open: the flips page nobody (as before), and
    once the alert is flagged each of its re-fires is on the timeline."""
    clock = Clock()
    with (
        start(lambda _: Reply.json({})) as sink,
        paging_app(database_url, sink, clock, extra=GROUPING) as (client, worker),
    ):

        def send(status: str, instance: str) -> None:
            body = am_payload(status=status, instance=instance)
            assert (
                client.post("/webhooks/alertmanager", content=body, headers=JSON).status_code == 202
            )

        send("firing", "steady:9100")
        send("firing", "flappy:9100")
        for _ in range(3):
            clock.advance(minutes=1)
            send("resolved", "flappy:9100")
            clock.advance(minutes=1)
            send("firing", "flappy:9100")
        run(client, worker, clock)
        assert paths(sink) == ["/alice"]
        shown = incident(client)
        assert shown["status"] == "triggered"
        kinds = [t["kind"] for t in shown["timeline"]]
        assert kinds.count("flapping") == 1
        assert kinds.count("alert_refired") == 1  # the third re-fire, once flagged
        refired = next(t for t in shown["timeline"] if t["kind"] == "alert_refired")
        assert "flapping: not paged again" in refired["message"]
