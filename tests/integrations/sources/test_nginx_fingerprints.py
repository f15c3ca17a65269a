"""Nginx message templates, upstream hosts, and fingerprints that ignore variable parts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integrations.sources.nginx_template import message_template, upstream_host
from tests.integrations.sources.nginx_support import line, parse


@pytest.mark.parametrize(
    ("message", "template"),
    [
        (
            "connect() to 10.0.0.1:80 failed (111: Connection refused)",
            "connect() to <ip> failed (111: Connection refused)",
        ),
        (
            "connect() to [2001:db8::1]:8080 failed (101: Network is unreachable)",
            "connect() to <ip> failed (101: Network is unreachable)",
        ),
        (
            'open() "/srv/www/a b/x.php?x=1" failed (2: No such file or directory)',
            'open() "<path>" failed (2: No such file or directory)',
        ),
        (
            "client intended to send too large body: 3520276 bytes",
            "client intended to send too large body: N bytes",
        ),
        (
            'limiting requests, excess: 5.684 by zone "one"',
            'limiting requests, excess: N by zone "one"',
        ),
        (
            'user "mallory" was not found in "/etc/nginx/.htpasswd"',
            'user "*" was not found in "<path>"',
        ),
        (
            "request id 0x7f3a9c00 for 9b2d6c3e-0a1f-4f4b-8c1d-2e3f4a5b6c7d at deadbeef1234",
            "request id <hex> for <uuid> at <hex>",
        ),
        ("upstream sent http://10.1.1.1:81/x?y=2 back", "upstream sent <url> back"),
        ("odd errno (77: Foo bar)", "odd errno (77)"),
    ],
)
def test_message_templates(message: str, template: str) -> None:
    assert message_template(message) == template


@pytest.mark.parametrize("text", ["Connection timed out", "Operation timed out", "Unknown error"])
def test_errno_text_of_any_libc_gives_one_template(text: str) -> None:
    assert message_template(f"upstream timed out (110: {text})") == (
        "upstream timed out (110: Connection timed out)"
    )


def test_different_errno_numbers_stay_apart() -> None:
    assert message_template("connect() failed (111: Connection refused)") != message_template(
        "connect() failed (113: No route to host)"
    )


@pytest.mark.parametrize(
    ("upstream", "host"),
    [
        ("http://10.0.0.5:8080/api/x?y=1", "10.0.0.5"),
        ("http://Backend.Internal/", "backend.internal"),
        ("https://[2001:db8::7]:8443/", "2001:db8::7"),
        ("fastcgi://unix:/run/php/php8.2-fpm.sock", "unix:/run/php/php8.2-fpm.sock"),
        ("http://unix:/tmp/app.sock:/uri/", "unix:/tmp/app.sock"),
        ("fastcgi://127.0.0.1:9000", "127.0.0.1"),
        ("grpc://api:50051", "api"),
    ],
)
def test_upstream_host(upstream: str, host: str) -> None:
    assert upstream_host(upstream) == host


def test_ten_thousand_upstream_lines_are_one_fingerprint() -> None:
    body = "\n".join(
        line(
            client=f"{10 + i % 200}.{i % 250}.{i % 7}.{i % 251}",
            port=8000 + i % 97,
            pid=100 + i % 16,
            conn=i * 13,
            path=f"/items/{i}?page={i % 9}",
            errno_text=("Connection timed out", "Operation timed out", "Unknown error")[i % 3],
        )
        for i in range(10_000)
    ).encode()
    result = parse(body)
    assert len(result.alerts) == 10_000 and result.unparsed == 0
    assert len({alert.fingerprint for alert in result.alerts}) == 1
    other_server = parse(line(server="admin.example.org").encode()).alerts[0]
    other_upstream = parse(line(upstream="10.20.0.6").encode()).alerts[0]
    fingerprints = {
        result.alerts[0].fingerprint,
        other_server.fingerprint,
        other_upstream.fingerprint,
    }
    assert len(fingerprints) == 3


ipv4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda parts: ".".join(map(str, parts)))
paths = st.lists(st.from_regex(r"[a-z0-9_.-]{1,8}", fullmatch=True), min_size=1, max_size=4).map(
    lambda parts: "/" + "/".join(parts)
)


@settings(max_examples=200)
@given(
    clients=st.lists(ipv4, min_size=2, max_size=2),
    ports=st.lists(st.integers(1, 65535), min_size=2, max_size=2),
    pids=st.lists(st.integers(1, 4_000_000), min_size=2, max_size=2),
    conns=st.lists(st.integers(1, 10**12), min_size=2, max_size=2),
    request_paths=st.lists(paths, min_size=2, max_size=2),
    query=st.integers(0, 10**6),
    errno_texts=st.lists(
        st.sampled_from(["Connection timed out", "Operation timed out", "Unknown error"]),
        min_size=2,
        max_size=2,
    ),
)
def test_variable_parts_never_split_a_fingerprint(
    clients: list[str],
    ports: list[int],
    pids: list[int],
    conns: list[int],
    request_paths: list[str],
    query: int,
    errno_texts: list[str],
) -> None:
    alerts = [
        parse(
            line(
                client=clients[i],
                port=ports[i],
                pid=pids[i],
                conn=conns[i],
                path=f"{request_paths[i]}?q={query + i}",
                errno_text=errno_texts[i],
            ).encode()
        ).alerts[0]
        for i in range(2)
    ]
    assert alerts[0].fingerprint == alerts[1].fingerprint


@given(
    servers=st.lists(
        st.from_regex(r"[a-z]{1,10}\.example", fullmatch=True), min_size=2, max_size=2, unique=True
    ),
)
def test_another_server_is_another_fingerprint(servers: list[str]) -> None:
    first, second = (parse(line(server=s).encode()).alerts[0] for s in servers)
    assert first.fingerprint != second.fingerprint


@given(upstreams=st.lists(ipv4, min_size=2, max_size=2, unique=True))
def test_another_upstream_host_is_another_fingerprint(upstreams: list[str]) -> None:
    first, second = (parse(line(upstream=u).encode()).alerts[0] for u in upstreams)
    assert first.fingerprint != second.fingerprint
