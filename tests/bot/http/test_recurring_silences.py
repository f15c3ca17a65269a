"""Recurring silences through the REST API, end to end on SQLite and PostgreSQL: stored,
listed with their true state (active now until the window's end, or the next window),
muting alerts only inside their windows (pages observed on a loopback apprise sink),
ended early, and refused with 422 naming the field."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.bot.workers.test_paging_e2e import JSON, paging_app, paths, run
from tests.support.loopback_http import Reply, start
from tests.support.paging import Clock, am_payload

# T0 is Monday 2026-05-04 10:00 UTC: the window is that day 12:00-14:00 Madrid (CEST,
# 10:00-12:00 UTC), so the clock starts at its opening; 09:00 UTC is before it.
MONDAY_NOON = {"weekdays": ["monday"], "times": ["12:00-14:00"], "time_zone": "Europe/Madrid"}


def silences(client: TestClient) -> list[dict[str, Any]]:
    response = client.get("/api/v1/silences")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_a_recurring_silence_mutes_only_inside_its_windows(database_url: str) -> None:
    clock = Clock()
    clock.advance(hours=-1)  # 09:00 UTC, 11:00 in Madrid
    with (
        start(lambda _: Reply.json({})) as sink,
        paging_app(database_url, sink, clock) as (client, worker),
    ):
        created = client.post(
            "/api/v1/silences",
            json={
                "matchers": ['service="checkout"'],
                "recurrence": MONDAY_NOON,
                "comment": "weekly batch",
            },
        )
        assert created.status_code == 201, created.text
        item = created.json()
        assert item["recurrence"]["weekdays"] == ["monday"]
        assert (item["state"], item["next_window_at"], item["ends_at"]) == (
            "pending", "2026-05-04T10:00:00+00:00", None,
        )  # fmt: skip
        [listed] = silences(client)
        assert (listed["id"], listed["state"]) == (item["id"], "pending")

        clock.advance(hours=1, minutes=30)  # 10:30 UTC: inside the window
        [listed] = silences(client)
        assert (listed["state"], listed["window_ends_at"]) == (
            "active", "2026-05-04T12:00:00+00:00",
        )  # fmt: skip
        assert (
            client.post("/webhooks/alertmanager", content=am_payload(), headers=JSON).status_code
            == 202
        )
        run(client, worker, clock)
        assert paths(sink) == []  # silenced, exactly like a config silence
        timeline = client.get("/api/v1/incidents/1").json()["timeline"]
        assert [t["kind"] for t in timeline] == ["created", "silenced"]
        assert item["id"] in timeline[1]["message"]

        clock.advance(hours=1, minutes=31)  # 12:01 UTC: the window closed
        run(client, worker, clock)
        assert paths(sink) == ["/alice"]  # the held incident pages once the window ends
        [listed] = silences(client)
        assert (listed["state"], listed["next_window_at"]) == (
            "pending", "2026-05-11T10:00:00+00:00",
        )  # fmt: skip

        ended = client.delete(f"/api/v1/silences/{item['id']}")
        assert ended.status_code == 200
        assert ended.json()["state"] == "expired"
        assert silences(client) == []


def test_a_silence_in_force_is_listed_until_its_window_end(database_url: str) -> None:
    """Recurring and bounded: the end shown is the sooner of the window's and its own."""
    clock = Clock()  # Monday 10:00 UTC, 12:00 Madrid
    with (
        start(lambda _: Reply.json({})) as sink,
        paging_app(database_url, sink, clock) as (client, _worker),
    ):
        created = client.post(
            "/api/v1/silences",
            json={"matchers": ['service="checkout"'], "recurrence": MONDAY_NOON, "duration": "1h"},
        )
        assert created.status_code == 201, created.text
        assert (created.json()["state"], created.json()["window_ends_at"]) == (
            "active", "2026-05-04T11:00:00+00:00",
        )  # fmt: skip


def test_invalid_recurring_silences_name_the_field(database_url: str) -> None:
    clock = Clock()
    with (
        start(lambda _: Reply.json({})) as sink,
        paging_app(database_url, sink, clock) as (client, _worker),
    ):

        def refused(recurrence: Any, **extra: Any) -> dict[str, Any]:
            body = {"matchers": ['service="checkout"'], "recurrence": recurrence, **extra}
            response = client.post("/api/v1/silences", json=body)
            assert response.status_code == 422, response.text
            problem: dict[str, Any] = response.json()
            return problem

        assert refused({"weekdays": ["caturday"]})["field"].startswith("body.recurrence.weekdays")
        assert refused({"times": ["25:00-26:00"]})["field"].startswith("body.recurrence.times")
        zone = refused({"time_zone": "Mars/Olympus"})
        assert zone["field"].startswith("body.recurrence.time_zone")
        assert refused({"every": "sunday"})["field"].startswith("body.recurrence")
        assert refused("sundays")["field"] == "body.recurrence"
        # Ends (Tuesday) before its first window (Sunday) opens: it would never mute.
        never = refused({"weekdays": ["sunday"]}, ends_at="2026-05-05T00:00:00Z")
        assert never["field"] == "body.recurrence"
        assert "opens before it ends" in never["detail"]
        assert silences(client) == []
