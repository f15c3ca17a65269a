"""REST /api/v1/silences (GET, POST, DELETE) over the silence store, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.support.chat_harness import ChatWorld, settings_data

TOKEN = "api-token-1"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def config(database_url: str) -> dict[str, Any]:
    return settings_data(
        database_url,
        api_tokens=[TOKEN],
        silences=[{"matchers": ['service="batch"'], "recurrence": {"weekdays": ["sunday"]}}],
    )


def test_create_list_and_expire(database_url: str) -> None:
    async def go() -> None:
        async with ChatWorld.open(config(database_url)) as world:
            http = world.http
            assert (await http.get("/api/v1/silences")).status_code == 401
            created = await http.post(
                "/api/v1/silences",
                headers=AUTH,
                json={
                    "matchers": ['service="api"', 'alertname=~"High.*"'],
                    "duration": "2h",
                    "comment": "deploy",
                },
            )
            assert created.status_code == 201, created.text
            item = created.json()
            assert item["matchers"] == ['service="api"', 'alertname=~"High.*"']
            assert (item["starts_at"], item["ends_at"]) == (
                "2026-03-02T10:00:00+00:00", "2026-03-02T12:00:00+00:00",
            )  # fmt: skip
            assert (item["state"], item["origin"], item["created_by"]) == (
                "active",
                "api",
                "token:token-1",
            )

            pending = await http.post(
                "/api/v1/silences",
                headers=AUTH,
                json={
                    "matchers": '{env="prod", service="db"}',
                    "starts_at": "2026-03-03T00:00:00Z",
                    "ends_at": "2026-03-03T02:00:00Z",
                },
            )
            assert pending.status_code == 201
            assert (pending.json()["state"], pending.json()["created_by"]) == (
                "pending", "token:token-1",
            )  # fmt: skip

            listed = (await http.get("/api/v1/silences", headers=AUTH)).json()["items"]
            # The config's Sunday silence on a Monday: pending until its next window.
            assert [(s["id"], s["state"], s["next_window_at"]) for s in listed][-1] == (
                "config:0", "pending", "2026-03-08T00:00:00+00:00",
            )  # fmt: skip
            assert {s["id"] for s in listed} >= {item["id"], pending.json()["id"]}

            ended = await http.delete(f"/api/v1/silences/{item['id']}", headers=AUTH)
            assert ended.status_code == 200
            assert (ended.json()["state"], ended.json()["expired_by"]) == (
                "expired",
                "token:token-1",
            )
            again = await http.delete(f"/api/v1/silences/{item['id']}", headers=AUTH)
            assert (again.status_code, again.json()["detail"]) == (
                409, f"silence {item['id']} has already ended",
            )  # fmt: skip
            config_one = await http.delete("/api/v1/silences/config:0", headers=AUTH)
            assert config_one.status_code == 409
            assert "comes from the config file" in config_one.json()["detail"]
            assert (await http.delete("/api/v1/silences/nope", headers=AUTH)).status_code == 404
            listed = (await http.get("/api/v1/silences", headers=AUTH)).json()["items"]
            assert item["id"] not in {s["id"] for s in listed}

    asyncio.run(go())


def test_invalid_silences_name_the_field(database_url: str) -> None:
    async def go() -> None:
        async with ChatWorld.open(config(database_url)) as world:

            async def post(body: dict[str, Any]) -> Any:
                return await world.http.post("/api/v1/silences", headers=AUTH, json=body)

            bad_regex = await post({"matchers": ['service=~"("'], "duration": "1h"})
            assert bad_regex.status_code == 422
            assert bad_regex.json()["field"] == "body.matchers"
            assert "invalid regex" in bad_regex.json()["detail"]

            everything = await post({"matchers": ['service=~".*"'], "duration": "1h"})
            assert everything.status_code == 422
            assert everything.json()["field"] == "body.matchers"
            assert "would silence everything" in everything.json()["detail"]

            bad_duration = await post({"matchers": ['service="api"'], "duration": "soon"})
            assert bad_duration.status_code == 422
            assert bad_duration.json()["field"] == "body.duration"

            both = await post(
                {"matchers": ['service="api"'], "duration": "1h", "ends_at": "2026-03-03T00:00:00Z"}
            )
            assert both.status_code == 422
            assert both.headers["content-type"] == "application/problem+json"
            assert both.json() == {
                "type": "about:blank",
                "title": "Unprocessable Entity",
                "status": 422,
                "detail": "give exactly one of ends_at and duration",
                "field": "body.ends_at",
            }
            neither = await post({"matchers": ['service="api"']})
            assert neither.json()["field"] == "body.ends_at"
            backwards = await post(
                {
                    "matchers": ['service="api"'],
                    "starts_at": "2026-03-03T02:00:00Z",
                    "ends_at": "2026-03-03T00:00:00Z",
                }
            )
            assert backwards.status_code == 422
            assert "ends_at must be after starts_at" in backwards.json()["detail"]
            assert backwards.json()["field"] == "body.ends_at"

    asyncio.run(go())
