"""One error shape on every route (RFC 9457 problem details, application/problem+json), and
REST input that a database would refuse (ids past the INTEGER columns, NUL characters)
refused with 422 naming the field, the same on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from tests.support.chat_harness import ChatWorld, settings_data

TOKEN = "api-token-1"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PROBLEM = "application/problem+json"


def in_world(database_url: str, body: Callable[[ChatWorld], Awaitable[None]], **extra: Any) -> None:
    async def go() -> None:
        data = settings_data(database_url, api_tokens=[TOKEN], **extra)
        async with ChatWorld.open(data) as world:
            await body(world)

    asyncio.run(go())


def assert_problem(response: httpx.Response, status: int, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["type"] == "about:blank"
    assert problem["status"] == status
    assert isinstance(problem["title"], str) and isinstance(problem["detail"], str)
    assert problem.get("field") == field, problem


def test_ids_past_the_id_columns_are_422_naming_the_id(database_url: str) -> None:
    async def body(world: ChatWorld) -> None:
        iid = await world.incident()
        for big in (2**31, 2**63, 10**30):
            for method, path in (
                ("GET", f"/api/v1/incidents/{big}"),
                ("POST", f"/api/v1/incidents/{big}/ack"),
                ("POST", f"/api/v1/incidents/{big}/resolve"),
            ):
                response = await world.http.request(method, path, headers=AUTH)
                assert_problem(response, 422, "path.incident_id")
        assert_problem(
            await world.http.get("/api/v1/incidents/0", headers=AUTH), 422, "path.incident_id"
        )
        largest = await world.http.get(f"/api/v1/incidents/{2**31 - 1}", headers=AUTH)
        assert_problem(largest, 404)
        assert (await world.http.get(f"/api/v1/incidents/{iid}", headers=AUTH)).status_code == 200

    in_world(database_url, body)


def test_nul_in_rest_text_is_422_naming_the_field(database_url: str) -> None:
    async def body(world: ChatWorld) -> None:
        iid = await world.incident()
        http = world.http
        for path, name in (
            ("/api/v1/alerts", "service"),
            ("/api/v1/alerts", "source"),
            ("/api/v1/incidents", "service"),
        ):
            response = await http.get(path, params={name: "api\x00"}, headers=AUTH)
            assert_problem(response, 422, f"query.{name}")
        note = await http.post(
            f"/api/v1/incidents/{iid}/resolve", json={"note": "fixed\x00"}, headers=AUTH
        )
        assert_problem(note, 422, "body.note")
        surrogate = await http.post(
            f"/api/v1/incidents/{iid}/resolve",
            content=b'{"note": "fixed \\ud800"}',
            headers={**AUTH, "Content-Type": "application/json"},
        )
        assert_problem(surrogate, 422, "body.note")
        silence = {"matchers": ['service="api"'], "duration": "1h"}
        for field, value in (
            ("comment", "deploy\x00"),
            ("matchers", ['service="a\x00pi"']),
            ("duration", "1h\x00"),
        ):
            response = await http.post(
                "/api/v1/silences", json={**silence, field: value}, headers=AUTH
            )
            expected = "body.matchers.0" if field == "matchers" else f"body.{field}"
            assert_problem(response, 422, expected)
        assert_problem(
            await http.delete("/api/v1/silences/a%00b", headers=AUTH), 422, "path.silence_id"
        )
        # Nothing was written: the incident is still open, no silence was stored.
        shown = (await http.get(f"/api/v1/incidents/{iid}", headers=AUTH)).json()
        assert shown["status"] == "triggered"
        listed = (await http.get("/api/v1/silences", headers=AUTH)).json()["items"]
        assert listed == []
        # The same text without NUL goes through.
        ok = await http.post(
            "/api/v1/silences", json={**silence, "comment": "deploy"}, headers=AUTH
        )
        assert ok.status_code == 201, ok.text

    in_world(database_url, body)


def test_times_off_the_calendar_are_422_naming_the_field(database_url: str) -> None:
    # Python's datetime ends at years 1 and 9999: converting such a time to UTC, adding a
    # duration to it or stepping a rotation from it raised OverflowError (500), and an
    # ends_at of 9999-12-31T23:59:59-14:00 reached the INSERT (500) on both databases.
    long_rotation = {
        "name": "long",
        "layers": [{"rotation": "custom", "length": "1000d", "members": ["alice", "bob"]}],
    }

    async def body(world: ChatWorld) -> None:
        oncall = "/api/v1/oncall"
        for query in (
            {"at": "9999-12-31T23:59:59-14:00"},
            {"at": "0001-01-01T00:00:00+14:00"},
            {"at": "9998-12-30T00:00:00", "schedule": "long", "handoffs": "50"},
        ):
            response = await world.http.get(oncall, params=query, headers=AUTH)
            assert_problem(response, 422, "query.at")
        assert (await world.http.get(oncall, params={"at": "2026-03-02"}, headers=AUTH)).is_success

        silences = "/api/v1/silences"
        api = ['service="api"']
        for extra, field in (
            ({"duration": "999999999d"}, "body.duration"),
            ({"starts_at": "9998-12-30T00:00:00Z", "duration": "2d"}, "body.duration"),
            ({"ends_at": "9999-12-31T23:59:59-14:00"}, "body.ends_at"),
            ({"starts_at": "0001-01-01T00:00:00+14:00", "duration": "1h"}, "body.starts_at"),
        ):
            silence = {"matchers": api, **extra}
            response = await world.http.post(silences, json=silence, headers=AUTH)
            assert_problem(response, 422, field)
        listed = await world.http.get(silences, headers=AUTH)
        assert listed.status_code == 200 and listed.json()["items"] == []

    in_world(database_url, body, schedules=[*settings_data("")["schedules"], long_rotation])


def test_every_kind_of_refusal_has_the_one_shape(database_url: str) -> None:
    async def body(world: ChatWorld) -> None:
        http = world.http
        assert_problem(await http.get("/no/such/route"), 404)
        wrong = await http.delete("/api/v1/incidents", headers=AUTH)
        assert_problem(wrong, 405)
        assert wrong.headers["allow"] == "GET"
        unauthorized = await http.get("/api/v1/incidents")
        assert_problem(unauthorized, 401)
        assert unauthorized.headers["www-authenticate"] == "Bearer"
        assert_problem(await http.get("/api/v1/incidents/5", headers=AUTH), 404)
        limit = await http.get("/api/v1/incidents", params={"limit": 0}, headers=AUTH)
        assert_problem(limit, 422, "query.limit")
        assert limit.json()["errors"] == [
            {"field": "query.limit", "detail": "Input should be greater than or equal to 1"}
        ]
        unparsable = await http.post(
            "/api/v1/silences",
            content=b"{nope",
            headers={**AUTH, "Content-Type": "application/json"},
        )
        assert_problem(unparsable, 422, "body.1")
        iid = await world.incident()
        await http.post(f"/api/v1/incidents/{iid}/ack", headers=AUTH)
        assert_problem(await http.post(f"/api/v1/incidents/{iid}/ack", headers=AUTH), 409)
        # max_body_bytes holds on the REST API too, declared or streamed.
        big = b'{"matchers": ["a=b"], "comment": "' + b"x" * 2000 + b'", "duration": "1h"}'
        declared = await http.post(
            "/api/v1/silences", content=big, headers={**AUTH, "Content-Type": "application/json"}
        )
        assert_problem(declared, 413)

        async def chunks() -> Any:
            for start in range(0, len(big), 500):
                yield big[start : start + 500]

        streamed = await http.post(
            "/api/v1/silences",
            content=chunks(),
            headers={**AUTH, "Content-Type": "application/json"},
        )
        assert_problem(streamed, 413)
        assert (await http.get("/api/v1/silences", headers=AUTH)).json()["items"] == []
        # The webhook lane answers the same way.
        assert_problem(await http.get("/webhooks/generic"), 405)
        assert_problem(await http.post("/webhooks/nope", json={}), 404)
        assert_problem(await http.post("/webhooks/generic", json={}), 401)
        shape = await http.post("/webhooks/generic", json={"alerts": "x"}, headers=AUTH)
        assert_problem(shape, 422, "alerts")

    in_world(database_url, body, max_body_bytes=1000)


def test_openapi_documents_problems_security_and_webhooks(tmp_path: Path) -> None:
    async def body(world: ChatWorld) -> None:
        schema = (await world.http.get("/openapi.json")).json()
        problem_ref = {"$ref": "#/components/schemas/Problem"}
        assert schema["components"]["securitySchemes"]["bearerAuth"] == {
            "type": "http",
            "scheme": "bearer",
            "description": "One of `api_tokens` (or a source's own token, for its webhook)",
        }
        assert "HTTPValidationError" not in schema["components"]["schemas"]
        for route, operations in schema["paths"].items():
            for method, operation in operations.items():
                if route.startswith("/api/"):
                    assert operation["security"] == [{"bearerAuth": []}], (method, route)
                    assert "401" in operation["responses"]
                for code, response in operation["responses"].items():
                    if code[0] in "45":
                        assert response["content"] == {PROBLEM: {"schema": problem_ref}}
        sentry = schema["paths"]["/webhooks/sentry"]["post"]
        assert sentry["security"] == [{"sentrySignature": []}]
        assert {p["name"] for p in sentry["parameters"]} == {
            "Sentry-Hook-Resource",
            "Sentry-Hook-Timestamp",
        }
        alertmanager = schema["paths"]["/webhooks/alertmanager"]["post"]
        assert alertmanager["security"] == [{"bearerAuth": []}, {"alertmanagerBasic": []}]
        assert "503" in alertmanager["responses"]
        assert "/webhooks/nginx" in schema["paths"] and "/webhooks/generic" in schema["paths"]

    in_world(f"sqlite:///{tmp_path}/schema.db", body)


def test_an_unexpected_error_is_a_500_problem_without_the_traceback() -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from bot.http.errors import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    response = TestClient(app, raise_server_exceptions=False).get("/boom")
    assert_problem(response, 500)
    assert response.json()["detail"] == "internal error"
    assert "secret internals" not in response.text
