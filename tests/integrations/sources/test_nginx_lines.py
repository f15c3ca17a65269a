"""Nginx error.log line grammar: fields, shipper prefixes, stderr form, non-error lines."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from integrations.sources.nginx_line import MAX_LINE, parse_error_line
from tests.integrations.sources.nginx_support import ACCESS, NO_CONN, REFUSED, STDERR, line


def test_full_line_grammar() -> None:
    parsed = parse_error_line(REFUSED)
    assert parsed is not None
    assert parsed.time == datetime(2024, 2, 29, 23, 59, 58, tzinfo=UTC)
    assert (parsed.level, parsed.pid, parsed.tid, parsed.connection) == ("error", 3120, 3120, 88123)
    assert parsed.message == "connect() failed (111: Connection refused)"
    assert parsed.action == "connecting to upstream"
    assert parsed.client == "198.51.100.7"
    assert parsed.server == "shop.example.org"
    assert parsed.request == "POST /cart/checkout?id=77 HTTP/2.0"
    assert parsed.upstream == "http://10.20.0.5:8080/cart/checkout"
    assert parsed.host == "shop.example.org"
    assert parsed.referrer == "https://shop.example.org/cart"
    assert parsed.text == REFUSED


def test_line_without_connection_or_context() -> None:
    parsed = parse_error_line(NO_CONN)
    assert parsed is not None
    assert (parsed.level, parsed.connection, parsed.server) == ("alert", None, None)
    assert parsed.message == "worker process 78 exited on signal 9"


def test_empty_and_underscore_server() -> None:
    empty = parse_error_line(line().replace("server: shop.example.org", "server: "))
    underscore = parse_error_line(line().replace("server: shop.example.org", "server: _"))
    assert empty is not None and empty.server is None and empty.request == "GET /cart HTTP/1.1"
    assert underscore is not None and underscore.server == "_"


def test_ssl_line_with_listen_address_as_server() -> None:
    text = (
        "2025/01/02 03:04:05 [crit] 9#9: *5 SSL_do_handshake() failed (SSL: error:0A00006C:SSL"
        " routines::bad key share) while SSL handshaking, client: 192.0.2.1, server: 0.0.0.0:443"
    )
    parsed = parse_error_line(text)
    assert parsed is not None
    assert (parsed.server, parsed.action) == ("0.0.0.0:443", "SSL handshaking")


def test_stderr_form() -> None:
    parsed = parse_error_line(STDERR)
    assert parsed is not None
    assert (parsed.level, parsed.time, parsed.pid) == ("emerg", None, None)
    assert parsed.message == 'unknown directive "proxy_pas" in /etc/nginx/conf.d/app.conf:12'


@pytest.mark.parametrize(
    "prefix",
    [
        "Mar  1 12:00:00 web1 nginx: ",  # syslog file
        "web1 nginx[3120]: ",  # journald short
        "web1 nginx[3120]: web1 nginx: ",  # doubled journald prefix
        "daemon.err nginx[3120]: ",  # OpenWrt logread
        "2024-03-01T12:00:00.123456789Z ",  # docker logs -t
        "web_1    | ",  # docker compose
    ],
)
def test_shipper_prefixes_are_skipped(prefix: str) -> None:
    parsed = parse_error_line(prefix + REFUSED)
    assert parsed is not None
    assert parsed.text == REFUSED
    assert parsed.time == datetime(2024, 2, 29, 23, 59, 58, tzinfo=UTC)


def test_line_without_timestamp() -> None:
    parsed = parse_error_line(REFUSED[len("2024/02/29 23:59:58 ") :])
    assert parsed is not None and parsed.time is None and parsed.server == "shop.example.org"


def test_impossible_date_keeps_the_line_without_a_time() -> None:
    parsed = parse_error_line(REFUSED.replace("2024/02/29", "2023/02/29"))
    assert parsed is not None and parsed.time is None


@pytest.mark.parametrize(
    "text", [ACCESS, "", "   ", "garbage [error] here", "[error] 12: x", "\x00\xff"]
)
def test_non_error_lines(text: str) -> None:
    assert parse_error_line(text) is None


def test_hostile_long_lines_are_capped() -> None:
    hostile = REFUSED + ', a: "b' * 50_000
    parsed = parse_error_line(hostile)
    assert parsed is not None and len(parsed.text) <= MAX_LINE
    assert parsed.server == "shop.example.org"
