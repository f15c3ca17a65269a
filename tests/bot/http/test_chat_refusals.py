"""/slack/events and /discord/interactions refuse garbage with 401 (not signed) or 400
(signed, but not an event or interaction), in the one error shape, and never answer 500.
Fuzzed with hypothesis over bodies, content types, timestamps and signatures."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing.storage.migrate import upgrade
from tests.bot.chat.test_discord_http import Signer
from tests.bot.chat.test_slack import signed
from tests.support.chat_harness import ChatWorld, discord_section, settings_data, slack_section

PROBLEM = "application/problem+json"
FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
bodies = st.one_of(
    st.binary(max_size=64),
    st.text(max_size=64).map(str.encode),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.just(b"{not json"),
)
content_types = st.sampled_from(
    ["application/json", "application/x-www-form-urlencoded", "text/plain", ""]
)


def ascii_text(max_size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=max_size)


timestamps = st.one_of(
    ascii_text(12),
    st.integers(min_value=-(10**12), max_value=10**12).map(str),
)


@asynccontextmanager
async def chat_world(tmp_path: Path, signer: Signer) -> AsyncIterator[ChatWorld]:
    url = f"sqlite:///{tmp_path}/chat.db"
    upgrade(url)
    data = settings_data(
        url,
        slack=slack_section("http://127.0.0.1:9/api/"),
        discord=discord_section("http://127.0.0.1:9", signer.public_hex),
    )
    async with ChatWorld.open(data) as world:
        yield world


def assert_refused(response: Any, allowed: set[int]) -> None:
    assert response.status_code in allowed, (response.status_code, response.text)
    assert response.headers["content-type"] == PROBLEM, response.text
    assert response.json()["status"] == response.status_code


def test_slack_garbage_is_401_or_400_never_500(tmp_path: Path) -> None:
    async def go() -> None:
        async with chat_world(tmp_path, Signer()) as world:
            cases = [
                (b"{not json", {"Content-Type": "application/json"}, 401),
                (b"\xff\xfe not utf-8", {}, 401),
                (b"a=b", {"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=00"}, 401),
                (b"a=b", {"X-Slack-Request-Timestamp": "", "X-Slack-Signature": ""}, 401),
                (b"{not json", signed("{not json") | {"Content-Type": "application/json"}, 400),
            ]
            for body, headers, status in cases:
                response = await world.http.post("/slack/events", content=body, headers=headers)
                assert_refused(response, {status})

            @FUZZ
            @given(
                body=bodies, content_type=content_types, timestamp=timestamps, sign=st.booleans()
            )
            def fuzz(body: bytes, content_type: str, timestamp: str, sign: bool) -> None:
                headers = {"Content-Type": content_type} if content_type else {}
                if sign:
                    text = body.decode("utf-8", "replace")
                    body = text.encode()
                    headers |= signed(text)
                else:
                    headers |= {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": "v0=1"}
                future = asyncio.run_coroutine_threadsafe(
                    world.http.post("/slack/events", content=body, headers=headers), loop
                )
                response = future.result(timeout=30)
                if response.status_code < 400:
                    return  # a signed body bolt accepted (e.g. an empty form): not garbage
                assert_refused(response, {400, 401, 404})

            loop = asyncio.get_running_loop()
            await asyncio.to_thread(fuzz)

    asyncio.run(go())


def test_discord_garbage_is_401_or_400_never_500(tmp_path: Path) -> None:
    signer = Signer()

    async def go() -> None:
        async with chat_world(tmp_path, signer) as world:
            shapes = [
                {"type": 2, "data": "x"},
                {"type": 2, "data": {"options": [1]}},
                {"type": 3, "data": {"custom_id": "incident:ack:1"}, "message": []},
                {"type": 2, "member": {"user": "alice"}},
                {"type": "2"},
                [],
            ]
            for shape in shapes:
                body = json.dumps(shape).encode()
                response = await world.http.post(
                    "/discord/interactions", content=body, headers=signer.headers(body)
                )
                assert_refused(response, {400})
            # Not JSON and JSON that is not an object are the same refusal.
            answers = []
            for body in (b"not json", b"[]"):
                response = await world.http.post(
                    "/discord/interactions", content=body, headers=signer.headers(body)
                )
                answers.append(response.json())
            assert answers[0] == answers[1]
            assert answers[0]["field"] == "body", answers[0]
            assert (
                await world.http.post("/discord/interactions", content=b"{}")
            ).status_code == 401

            @FUZZ
            @given(
                body=bodies,
                timestamp=timestamps,
                signature=ascii_text(130),
                sign=st.booleans(),
            )
            def fuzz(body: bytes, timestamp: str, signature: str, sign: bool) -> None:
                if sign:
                    headers = signer.headers(body)  # at the app's clock
                else:
                    headers = {"X-Signature-Ed25519": signature, "X-Signature-Timestamp": timestamp}
                future = asyncio.run_coroutine_threadsafe(
                    world.http.post("/discord/interactions", content=body, headers=headers), loop
                )
                response = future.result(timeout=30)
                if response.status_code < 400:
                    return  # a PING, or an interaction the handlers understood
                assert_refused(response, {400} if sign else {401})

            loop = asyncio.get_running_loop()
            await asyncio.to_thread(fuzz)

    asyncio.run(go())
