"""json:// and jsons:// sent natively on the shared pool make exactly apprise's request.

apprise (AppriseNotifier) and the native JsonNotifier send the same notification to one
loopback server over real sockets; the requests it records (method, request target with
the query, every header in order, body) must be equal byte for byte.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations.notifiers.apprise import AppriseNotifier
from integrations.notifiers.base import DeliveryOutcome, Notification, TextMessage
from integrations.notifiers.http_pool import HttpPool
from integrations.notifiers.json_webhook import JsonNotifier, parse_target
from tests.support.notifier_sample import sample_notification
from tests.support.raw_http import RawReply, RawRequest, RawSink, self_signed_context

# Odd text on purpose: apprise strips the title and the message's trailing space, and
# json.dumps escapes non-ASCII; the native body must do the same.
NOTE = sample_notification(incident_title='  Ünïcode "quoted" title\t ', summaries=["a ", "b\n"])


async def _native_send(url: str, message: Notification | TextMessage) -> object:
    pool = HttpPool()
    client = pool.acquire()
    try:
        notifier = JsonNotifier(client, pool.unverified)
        if isinstance(message, TextMessage):
            return await notifier.send_text(url, message)
        return await notifier.send(url, message)
    finally:
        await pool.release()


async def _apprise_send(url: str, message: Notification | TextMessage) -> object:
    if isinstance(message, TextMessage):
        return await AppriseNotifier().send_text(url, message)
    return await AppriseNotifier().send(url, message)


def both(
    sink: RawSink, url: str, message: Notification | TextMessage = NOTE
) -> tuple[RawRequest, RawRequest]:
    sink.requests.clear()
    asyncio.run(_apprise_send(url, message))
    asyncio.run(_native_send(url, message))
    assert len(sink.requests) == 2, sink.requests
    return sink.requests[0], sink.requests[1]


@pytest.fixture(scope="module")
def sink() -> Iterator[RawSink]:
    with RawSink() as server:
        yield server


@pytest.mark.parametrize(
    "path",
    [
        "/hook",
        "",
        "/a/b%20c/~d/",
        "/hook?+X-Token=ab%2Fc&+User-Agent=custom&-q=1&-r=a+b&-r2=%C3%A9",
        "/hook?method=PUT",
        "/hook?method=patch&:message=text&:title=&:source=firebell",
        "/hook?method=GET&-x=1",
        "/hook?foo=bar&tz=UTC&store=no&rto=3&cto=2&verify=yes",
        "/hook?+content-type=text/plain&+Accept=application/json",
    ],
)
def test_json_requests_are_byte_identical(sink: RawSink, path: str) -> None:
    apprise_request, native_request = both(sink, f"json://127.0.0.1:{sink.port}{path}")
    # The whole request as its bytes arrived: request line, header lines, body.
    assert native_request.raw == apprise_request.raw
    assert native_request.raw.endswith(b"\r\n\r\n" + native_request.body)
    assert native_request == apprise_request


def test_a_host_override_is_the_one_header_out_of_place(sink: RawSink) -> None:
    """h11 writes Host first; requests where the URL put it (documented, not refused:
    the same header lines, the same meaning)."""
    url = f"json://127.0.0.1:{sink.port}/hook?+X-A=1&+Host=pager.internal"
    apprise_request, native_request = both(sink, url)
    assert native_request.raw != apprise_request.raw
    host = b"Host: pager.internal\r\n"

    def moved_first(raw: bytes) -> bytes:
        line, _, rest = raw.partition(b"\r\n")
        return line + b"\r\n" + host + rest.replace(host, b"", 1)

    assert native_request.raw == moved_first(apprise_request.raw)


@pytest.mark.parametrize("userinfo", ["alice:s%40cret%2F1", "bob", "b%C3%B6b:p%3Aw"])
def test_basic_auth_is_byte_identical(sink: RawSink, userinfo: str) -> None:
    apprise_request, native_request = both(sink, f"json://{userinfo}@127.0.0.1:{sink.port}/x")
    assert "authorization" in native_request.header_map()
    assert native_request == apprise_request


def test_resolved_pages_and_plain_messages_are_byte_identical(sink: RawSink) -> None:
    url = f"json://127.0.0.1:{sink.port}/hook"
    resolved = both(sink, url, sample_notification(status="resolved"))
    assert resolved[1] == resolved[0] and b'"type": "success"' in resolved[1].body
    text = both(sink, url, TextMessage(title="Silence ends soon ", text="line one\nline two \n"))
    assert text[1] == text[0] and b'"type": "warning"' in text[1].body


def test_jsons_with_verify_no_against_a_self_signed_server(tmp_path: Path) -> None:
    with RawSink(tls=self_signed_context(tmp_path)) as tls_sink:
        url = f"jsons://127.0.0.1:{tls_sink.port}/secure?verify=no&+X-Key=k1"
        apprise_request, native_request = both(tls_sink, url)
        assert native_request == apprise_request
        # Verified (the default), the self-signed certificate is refused by both.
        tls_sink.requests.clear()
        strict = f"jsons://127.0.0.1:{tls_sink.port}/secure"
        assert not asyncio.run(AppriseNotifier().send(strict, NOTE)).ok  # type: ignore[attr-defined]
        result = asyncio.run(_native_send(strict, NOTE))
        assert result.outcome is DeliveryOutcome.RETRYABLE  # type: ignore[attr-defined]
        assert tls_sink.requests == []


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("format=html", "format="),
        ("format=markdown", "format="),
        ("overflow=split", "overflow="),
        ("emojis=yes", "emojis"),
        ("retry=3", "retry="),
        ("optional=yes", "optional"),
        ("method=BREW", "apprise refuses it"),
        ("+X-Bad=x%0Ay", "preparing the request"),
        ("+transfer-encoding=chunked", r"\+Transfer-Encoding="),
    ],
)
def test_arguments_that_would_send_differently_are_refused(query: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_target(f"json://hooks.example/x?{query}")


def test_refusals_never_show_credentials() -> None:
    with pytest.raises(ValueError) as info:
        parse_target("json://al:PASSW0RD@hooks.example/SECRET-PATH?format=html")
    assert "PASSW0RD" not in str(info.value) and "SECRET-PATH" not in str(info.value)


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_KEY = st.text(st.sampled_from("abcXYZ-_.0~é/ "), min_size=1, max_size=6)


@st.composite
def json_urls(draw: st.DrawFn, port: int) -> str:
    user = draw(st.none() | _TEXT)
    password = draw(st.none() | _TEXT)
    userinfo = ""
    if user:
        userinfo = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "") + "@"
    segments = draw(st.lists(_TEXT, max_size=3))
    path = "".join("/" + quote(s, safe=draw(st.sampled_from(["", "~", "%"]))) for s in segments)
    args = draw(
        st.lists(
            st.tuples(st.sampled_from(["+", "-", ":", ""]), _KEY, _TEXT),
            max_size=4,
        )
    )
    method = draw(st.none() | st.sampled_from(["post", "PUT", "get", "PATCH", "DELETE", "x"]))
    query = [f"{p}{quote(k, safe='')}={quote(v, safe='')}" for p, k, v in args]
    if method:
        query.append(f"method={method}")
    return f"json://{userinfo}127.0.0.1:{port}{path}" + ("?" + "&".join(query) if query else "")


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_fuzzed_urls_make_apprises_request_or_a_clear_refusal(
    sink: RawSink, data: st.DataObject
) -> None:
    url = data.draw(json_urls(sink.port))
    sink.requests.clear()
    asyncio.run(_apprise_send(url, NOTE))
    sent_by_apprise = list(sink.requests)
    sink.requests.clear()
    try:
        parse_target(url)
    except ValueError as exc:
        # A clear refusal naming the (redacted) URL and the problem: apprise could not
        # send it either, or would send what the native sender does not (a header name
        # h11 refuses to write, an argument it does not honour).
        assert re.match(r"json://(\*\*\*@)?127\.0\.0\.1:\d+", str(exc))
        reasons = ("not supported", "not an HTTP token", "apprise", "cannot be sent", "preparing")
        assert sent_by_apprise == [] or any(r in str(exc) for r in reasons[:2]), exc
        return
    asyncio.run(_native_send(url, NOTE))
    assert sink.requests == sent_by_apprise


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60) | st.builds(lambda s: "json://" + s, st.text(max_size=60)))
def test_the_parser_never_crashes(text: str) -> None:
    try:
        target = parse_target(text)
    except ValueError as exc:
        assert str(exc)
    else:
        assert target.url.startswith(("http://", "https://"))


def _answer(status: int, headers: dict[str, str] | None = None) -> RawSink:
    return RawSink(lambda _request: RawReply(status, headers or {}))


@pytest.mark.parametrize(
    ("status", "headers", "outcome", "retry_after"),
    [
        (200, {}, DeliveryOutcome.OK, None),
        (204, {}, DeliveryOutcome.OK, None),
        (500, {}, DeliveryOutcome.RETRYABLE, None),
        (503, {"Retry-After": "7"}, DeliveryOutcome.RETRYABLE, timedelta(seconds=7)),
        (429, {"Retry-After": "30"}, DeliveryOutcome.RETRYABLE, timedelta(seconds=30)),
        (408, {}, DeliveryOutcome.RETRYABLE, None),
        (404, {}, DeliveryOutcome.PERMANENT, None),
        (401, {}, DeliveryOutcome.PERMANENT, None),
        (422, {"Retry-After": "5"}, DeliveryOutcome.PERMANENT, None),
    ],
)
def test_answers_map_to_delivery_results(
    status: int,
    headers: dict[str, str],
    outcome: DeliveryOutcome,
    retry_after: timedelta | None,
) -> None:
    with _answer(status, headers) as server:
        result = asyncio.run(_native_send(f"json://u:PW1@127.0.0.1:{server.port}/hook", NOTE))
    assert result.outcome is outcome  # type: ignore[attr-defined]
    assert result.retry_after == retry_after  # type: ignore[attr-defined]
    assert str(status) in result.detail and "PW1" not in result.detail  # type: ignore[attr-defined]


def test_connection_refused_is_retryable() -> None:
    with RawSink() as server:
        port = server.port
    result = asyncio.run(_native_send(f"json://127.0.0.1:{port}/hook", NOTE))
    assert result.outcome is DeliveryOutcome.RETRYABLE  # type: ignore[attr-defined]
    assert "ConnectError" in result.detail  # type: ignore[attr-defined]


def test_redirects_are_followed_to_the_same_origin_only() -> None:
    with RawSink() as elsewhere:
        away = f"http://127.0.0.1:{elsewhere.port}/stolen"

        def redirect(request: RawRequest) -> RawReply:
            if request.target == "/hook":
                return RawReply(307, {"Location": "/moved"})
            if request.target == "/moved":
                return RawReply(303, {"Location": "/done"})
            if request.target == "/away":
                return RawReply(302, {"Location": away})
            return RawReply(200)

        with RawSink(redirect) as server:
            base = f"json://u:PW@127.0.0.1:{server.port}"
            ok = asyncio.run(_native_send(base + "/hook", NOTE))
            assert ok.ok  # type: ignore[attr-defined]
            hook, moved, done = server.requests
            # 307 keeps the method and body; 303 turns into a bodiless GET, as requests does.
            assert (moved.method, moved.body) == ("POST", hook.body)
            assert done.method == "GET" and done.body == b""
            assert "content-type" not in done.header_map()

            refused = asyncio.run(_native_send(base + "/away", NOTE))
            assert refused.outcome is DeliveryOutcome.PERMANENT  # type: ignore[attr-defined]
            assert "not followed" in refused.detail  # type: ignore[attr-defined]
            assert elsewhere.requests == []  # the credentials never left for another host

            server.requests.clear()
            unfollowed = asyncio.run(_native_send(base + "/hook?redirect=no", NOTE))
            assert unfollowed.outcome is DeliveryOutcome.PERMANENT  # type: ignore[attr-defined]
            assert len(server.requests) == 1


def test_the_pool_reuses_a_few_connections_where_apprise_opens_one_per_send() -> None:
    with RawSink() as server:
        url = f"json://127.0.0.1:{server.port}/hook"

        async def native(sends: int) -> None:
            pool = HttpPool()
            notifier = JsonNotifier(pool.acquire(), pool.unverified)
            try:
                for _ in range(sends // 2):  # one after another: one connection
                    assert (await notifier.send(url, NOTE)).ok
                results = await asyncio.gather(
                    *(notifier.send(url, NOTE) for _ in range(sends // 2))
                )
                assert all(r.ok for r in results)
            finally:
                await pool.release()

        asyncio.run(native(100))
        assert len(server.requests) == 100
        assert server.connections <= 16  # bounded per host (http_pool.PER_HOST)

        server.connections = 0
        for _ in range(5):
            assert asyncio.run(AppriseNotifier().send(url, NOTE)).ok
        assert server.connections == 5  # what the native pool saves: a connection per send


def test_through_the_environments_proxy_as_apprise(monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP_PROXY reaches both senders alike (the pool has its own transport, which
    httpx would otherwise take as "no proxies"); NO_PROXY sends a host direct."""
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    with RawSink() as proxy, RawSink() as direct:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
        monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{proxy.port}")
        apprise_request, native_request = both(proxy, "json://pager.invalid/hook?+X-A=1")
        assert native_request.target == "http://pager.invalid/hook"  # absolute form
        assert native_request.raw == apprise_request.raw
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        monkeypatch.setenv("no_proxy", "127.0.0.1")
        proxy.requests.clear()
        assert asyncio.run(_native_send(f"json://127.0.0.1:{direct.port}/d", NOTE)).ok  # type: ignore[attr-defined]
        assert proxy.requests == [] and len(direct.requests) == 1
