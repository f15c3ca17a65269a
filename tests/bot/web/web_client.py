"""A firebell app with two probe routes behind the page's auth dependencies, for the
core's tests (login, CSRF, roles) without depending on any page's content."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from fastapi.testclient import TestClient

from bot.config import Settings
from bot.roles import create_app
from bot.web.auth import PageResponder, PageViewer
from bot.web.templating import render

ALICE_TOKEN = "alice-token-5f1e2d3c4b"  # responder
VERA_TOKEN = "vera-token-9a8b7c6d5e"  # viewer
MACHINE_TOKEN = "machine-token-0a1b2c3d4e"
SAME_SITE = {"Sec-Fetch-Site": "same-origin", "Origin": "http://testserver"}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def settings(database_url: str, **extra: Any) -> Settings:
    tokens = extra.pop(
        "api_tokens",
        [
            {"token": ALICE_TOKEN, "user": "alice"},
            {"token": VERA_TOKEN, "user": "vera"},
            {"token": MACHINE_TOKEN, "name": "alertmanager"},
        ],
    )
    return Settings.model_validate(
        {
            "database_url": database_url,
            "api_tokens": tokens,
            "users": [
                {"name": "alice", "time_zone": "Europe/Berlin"},
                {"name": "vera", "role": "viewer"},
            ],
            **extra,
        }
    )


def probe_router() -> APIRouter:
    router = APIRouter()

    @router.get("/probe")
    async def look(request: Request, who: PageViewer) -> PlainTextResponse:
        return PlainTextResponse(f"{who.name} {who.role}")

    @router.get("/probe/page")
    async def page(request: Request, who: PageViewer) -> Any:
        return render(request, "error.html", {"status": 200, "error": "probe"})

    @router.post("/probe")
    async def act(request: Request, who: PageResponder) -> PlainTextResponse:
        return PlainTextResponse(f"acted as {who.name}")

    return router


def client(
    database_url: str,
    clock: Callable[[], datetime] | None = None,
    peer: tuple[str, int] = ("testclient", 50000),
    **extra: Any,
) -> TestClient:
    app = create_app(settings(database_url, **extra), clock=clock or Clock())
    app.include_router(probe_router())

    async def from_peer(scope: Any, receive: Any, send: Any) -> None:
        # The TCP peer the app sees (TestClient's own `client=` is not in older Starlettes).
        await app({**scope, "client": peer} if "client" in scope else scope, receive, send)

    return TestClient(from_peer, follow_redirects=False)


def log_in(http: TestClient, token: str = ALICE_TOKEN) -> None:
    answer = http.post("/login", data={"token": token}, headers=SAME_SITE)
    assert answer.status_code == 303, answer.text


def page_csrf(http: TestClient) -> str:
    page = http.get("/probe/page")
    assert page.status_code == 200, page.text
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
    assert found, page.text
    return found.group(1)
