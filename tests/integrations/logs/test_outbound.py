"""The guarded HTTP client: where it refuses to go, what it connects to, and its limits."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import pytest
from pydantic import ValidationError

from integrations.connections import HttpConnection
from integrations.logs.base import HttpCall
from integrations.logs.loki import LokiConnection
from integrations.outbound import (
    Outbound,
    OutboundRefused,
    OutboundResponse,
    address_problem,
    check_address,
    describe_request,
)
from tests.support.loopback_http import RecordedRequest, Reply, start

TOKEN = "tok-0123456789abcdef"
CALL = HttpCall(method="GET", path="/probe", query=(("q", "a b"),))


def resolving(table: dict[str, list[str]]) -> Any:
    calls: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        calls.append(host)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    resolver.calls = calls  # type: ignore[attr-defined]
    return resolver


def connection(url: str, **extra: Any) -> LokiConnection:
    return LokiConnection.model_validate({"type": "loki", "url": url, "token": TOKEN, **extra})


def send(conn: HttpConnection, call: HttpCall = CALL, resolver: Any = None) -> OutboundResponse:
    async def go() -> OutboundResponse:
        outbound = Outbound(resolver)
        try:
            return await outbound.send(conn, call)
        finally:
            await outbound.aclose()

    return asyncio.run(go())


def refusal(conn: HttpConnection, resolver: Any = None, call: HttpCall = CALL) -> str:
    with pytest.raises(OutboundRefused) as caught:
        send(conn, call, resolver)
    message = str(caught.value)
    assert TOKEN not in message and TOKEN not in repr(caught.value)
    return message


def test_a_name_on_loopback_is_refused_unless_allowed_and_then_reached_at_the_checked_ip() -> None:
    with start(lambda _: Reply.json({"ok": True})) as server:
        port = server.base_url.rsplit(":", 1)[1]
        resolver = resolving({"logs.example": ["127.0.0.1"]})
        message = refusal(connection(f"http://logs.example:{port}"), resolver)
        assert "logs.example (127.0.0.1) is a loopback address" in message
        assert "allow_private: true" in message
        assert server.requests == []

        allowed = connection(f"http://logs.example:{port}", allow_private=True)
        response = send(allowed, resolver=resolver)
    assert response.status == 200 and response.body == b'{"ok": true}'
    (request,) = server.requests
    # The name was resolved once, by us; the socket went to that IP, the name rode in Host.
    assert request.headers["host"] == f"logs.example:{port}"
    assert request.path == "/probe" and request.query == {"q": ["a b"]}
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert resolver.calls == ["logs.example", "logs.example"]


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("10.0.0.1", "private"),
        ("192.168.1.20", "private"),
        ("169.254.169.254", "link-local"),
        ("127.0.0.53", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "IPv6 form of 127.0.0.1, a loopback"),
        ("::ffff:169.254.169.254", "link-local"),
        ("64:ff9b::a00:1", "IPv6 form of 10.0.0.1"),
        ("2002:7f00:1::", "IPv6 form of 127.0.0.1"),
        ("fd12:3456::1", "unique-local"),
        ("fe80::1%eth0", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.251", "multicast"),
        ("100.64.0.1", "not publicly routable"),
    ],
)
def test_non_public_addresses_are_refused_before_any_connection(address: str, kind: str) -> None:
    assert kind in (address_problem(address) or "")
    resolver = resolving({"internal.example": [address]})
    assert kind in refusal(connection("http://internal.example"), resolver)
    problem = check_address("http://internal.example", allow_private=False, resolver=resolver)
    assert problem is not None and kind in problem
    assert check_address("http://internal.example", allow_private=True, resolver=resolver) is None


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert address_problem(address) is None
    assert check_address("https://x.example", False, resolving({"x.example": [address]})) is None


def test_one_private_answer_among_public_ones_is_enough_to_refuse() -> None:
    resolver = resolving({"mixed.example": ["93.184.216.34", "10.1.2.3"]})
    assert "10.1.2.3" in refusal(connection("http://mixed.example"), resolver)


def test_check_address_defers_an_unresolvable_name_but_send_refuses_it() -> None:
    resolver = resolving({})
    assert check_address("http://nowhere.example", False, resolver) is None
    assert "cannot resolve nowhere.example" in refusal(
        connection("http://nowhere.example"), resolver
    )
    # An IP literal needs no DNS: refused at load.
    assert "loopback" in (check_address("http://127.0.0.1:3100", False) or "")
    assert "loopback" in (check_address("http://[::1]:3100", False) or "")


def test_redirect_to_another_host_is_refused() -> None:
    with start(lambda _: Reply(302, b"", {"Location": "http://metadata.example/latest"})) as server:
        message = refusal(connection(server.base_url, allow_private=True))
    assert "redirected to another host (metadata.example)" in message
    assert len(server.requests) == 1


def test_redirect_to_another_port_or_a_bad_port_is_refused() -> None:
    with start(lambda _: Reply.json({})) as other:
        elsewhere = {"Location": other.base_url + "/admin"}  # same 127.0.0.1, another port
        with start(lambda _: Reply(307, b"", elsewhere)) as server:
            message = refusal(connection(server.base_url, allow_private=True))
    assert f"redirected to another port ({other.base_url.rsplit(':', 1)[1]})" in message
    assert other.requests == []  # the credential never reached the other service

    with start(lambda _: Reply(302, b"", {"Location": "http://127.0.0.1:99999/"})) as server:
        assert "redirected to an invalid URL" in refusal(
            connection(server.base_url, allow_private=True)
        )


@pytest.mark.parametrize("url", ["http://loki:abc", "http://loki:0", "http://loki:70000"])
def test_a_connection_url_with_a_bad_port_is_refused_at_load(url: str) -> None:
    with pytest.raises(ValidationError, match=r"url\n.*invalid URL"):
        connection(url)


def test_a_zero_timeout_is_refused_at_load() -> None:
    with pytest.raises(ValidationError, match=r"timeout\n.*longer than 0s"):
        connection("https://logs.example", timeout="0s")


def test_same_host_redirects_are_followed_up_to_three() -> None:
    def handler(request: RecordedRequest) -> Reply:
        if request.path == "/probe":
            return Reply(301, b"", {"Location": "/moved?x=1"})
        return Reply.json({"path": request.path, "query": request.query})

    with start(handler) as server:
        response = send(connection(server.base_url, allow_private=True))
    assert response.status == 200
    assert [r.path for r in server.requests] == ["/probe", "/moved"]
    assert server.requests[1].headers["authorization"] == f"Bearer {TOKEN}"

    with start(lambda r: Reply(307, b"", {"Location": r.path + "x"})) as loop:
        assert "more than 3 redirects" in refusal(connection(loop.base_url, allow_private=True))
    assert len(loop.requests) == 4


def test_oversize_answers_are_refused_declared_or_streamed() -> None:
    with start(lambda _: Reply(200, b"x" * 5000)) as server:
        conn = connection(server.base_url, allow_private=True, max_response_bytes=1000)
        assert "response larger than 1000 bytes" in refusal(conn)
        exact = connection(server.base_url, allow_private=True, max_response_bytes=5000)
        assert len(send(exact).body) == 5000

    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"400\r\n" + b"y" * 1024 + b"\r\n"
        + b"400\r\n" + b"y" * 1024 + b"\r\n0\r\n\r\n"
    )  # fmt: skip
    with raw_server(chunked) as url:
        conn = connection(url, allow_private=True, max_response_bytes=1500)
        assert "response larger than 1500 bytes" in refusal(conn)


def test_a_slow_answer_fails_at_the_connection_timeout() -> None:
    def slow(_: RecordedRequest) -> Reply:
        time.sleep(1.5)
        return Reply.json({})

    with start(slow) as server:
        began = time.monotonic()
        message = refusal(connection(server.base_url, allow_private=True, timeout="200ms"))
        assert time.monotonic() - began < 1.2
    assert "no complete answer within 0.2s" in message


def test_a_closed_port_is_a_refusal_without_credentials() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert "ConnectError" in refusal(connection(f"http://127.0.0.1:{port}", allow_private=True))


def test_describe_masks_credentials() -> None:
    conn = connection("https://logs.example/base", org_id="t1")
    call = HttpCall("GET", "/api", (("query", '{a="b"}'),), None, (("X-Scope-OrgID", "t1"),))
    shown = describe_request(conn, call)
    assert shown == {
        "method": "GET",
        "url": "https://logs.example/base/api?query=%7Ba%3D%22b%22%7D",
        "headers": {"X-Scope-OrgID": "t1", "Authorization": "***"},
        "body": None,
    }
    assert TOKEN not in repr(shown)


@contextmanager
def raw_server(answer: bytes) -> Iterator[str]:
    """A server that reads one request and writes `answer` verbatim (no Content-Length)."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.recv(65536)
            with suppress(OSError):  # the client hangs up past the cap
                conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()
        thread.join(timeout=5)
