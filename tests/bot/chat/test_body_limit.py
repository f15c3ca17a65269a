"""POST /slack/events and /discord/interactions refuse bodies over `max_body_bytes` with 413
before buffering them: at once on a large Content-Length, and mid-stream when chunked."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from routing.storage.migrate import upgrade
from tests.bot.chat.test_discord_http import Signer
from tests.bot.chat.test_slack import signed
from tests.support.chat_harness import ChatWorld, discord_section, settings_data, slack_section

LIMIT = 1000
CHUNK = 400
PATHS = ["/slack/events", "/discord/interactions"]


class Chunks:
    """A request body handed over chunk by chunk, counting how many were taken."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.taken = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            self.taken += 1
            yield chunk


def in_world(tmp_path: Path, body: Callable[[ChatWorld, Signer], Awaitable[None]]) -> None:
    signer = Signer()
    url = f"sqlite:///{tmp_path}/limit.db"
    upgrade(url)
    data = settings_data(
        url,
        max_body_bytes=LIMIT,
        slack=slack_section("http://127.0.0.1:9/api/"),
        discord=discord_section("http://127.0.0.1:9", signer.public_hex),
    )

    async def go() -> None:
        async with ChatWorld.open(data) as world:
            await body(world, signer)

    asyncio.run(go())


@pytest.mark.parametrize("path", PATHS)
def test_a_large_content_length_is_refused_unread(tmp_path: Path, path: str) -> None:
    async def body(world: ChatWorld, signer: Signer) -> None:
        stream = Chunks([b"x" * CHUNK] * 10)
        headers = {"Content-Length": str(128 * 1024 * 1024), "Content-Type": "application/json"}
        response = await world.http.post(path, content=stream, headers=headers)
        assert response.status_code == 413
        assert response.json()["detail"] == f"body exceeds {LIMIT} bytes"
        assert response.headers["content-type"] == "application/problem+json"
        assert stream.taken == 0  # not a byte read

    in_world(tmp_path, body)


@pytest.mark.parametrize("path", PATHS)
def test_a_chunked_body_is_cut_off_at_the_limit(tmp_path: Path, path: str) -> None:
    async def body(world: ChatWorld, signer: Signer) -> None:
        stream = Chunks([b"x" * CHUNK] * 10)
        response = await world.http.post(
            path, content=stream, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 413
        assert stream.taken == 3  # 1200 bytes > 1000: stopped there, the rest never read

    in_world(tmp_path, body)


def test_signed_chunked_bodies_within_the_limit_still_work(tmp_path: Path) -> None:
    async def body(world: ChatWorld, signer: Signer) -> None:
        ping = json.dumps({"type": 1}).encode()
        response = await world.http.post(
            "/discord/interactions",
            content=Chunks([ping[:4], ping[4:]]),
            headers=signer.headers(ping),
        )
        assert (response.status_code, response.json()) == (200, {"type": 1})

        challenge = json.dumps({"type": "url_verification", "challenge": "c" * 20})
        raw = challenge.encode()
        headers = {**signed(challenge), "Content-Type": "application/json"}
        response = await world.http.post(
            "/slack/events", content=Chunks([raw[:10], raw[10:]]), headers=headers
        )
        assert response.status_code == 200
        assert "c" * 20 in response.text
        forged = {**headers, "X-Slack-Signature": "v0=" + "0" * 64}
        response = await world.http.post("/slack/events", content=raw, headers=forged)
        assert response.status_code == 401

    in_world(tmp_path, body)
