"""Nginx error.log parsing: line grammar, templates and fingerprints, body shapes, services."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integrations.sources import SOURCES, SourceOptions
from integrations.sources.nginx import (
    MAX_LINE,
    message_template,
    nginx,
    parse_error_line,
    upstream_host,
)
from routing.intake.alert import UNKNOWN_SERVICE, AlertStatus, Severity
from tests.support.sources import payload_error

NO_OPTIONS = SourceOptions()

# Lines written for these tests from the grammar in FORMATS.md §3 (ngx_log.c).
REFUSED = (
    "2024/02/29 23:59:58 [error] 3120#3120: *88123 connect() failed (111: Connection refused)"
    " while connecting to upstream, client: 198.51.100.7, server: shop.example.org,"
    ' request: "POST /cart/checkout?id=77 HTTP/2.0", upstream: "http://10.20.0.5:8080/cart/checkout",'
    ' host: "shop.example.org", referrer: "https://shop.example.org/cart"'
)
NO_CONN = "2023/07/01 04:05:06 [alert] 77#0: worker process 78 exited on signal 9"
STDERR = 'nginx: [emerg] unknown directive "proxy_pas" in /etc/nginx/conf.d/app.conf:12'
ACCESS = '203.0.113.9 - - [01/Jul/2023:04:05:06 +0000] "GET / HTTP/1.1" 502 157 "-" "curl/8.0"'


def line(
    *,
    client: str = "198.51.100.7",
    port: int = 8080,
    pid: int = 3120,
    conn: int = 1,
    server: str = "shop.example.org",
    upstream: str = "10.20.0.5",
    path: str = "/cart",
    errno_text: str = "Connection timed out",
) -> str:
    return (
        f"2024/03/01 12:00:00 [error] {pid}#{pid}: *{conn} upstream timed out (110: {errno_text})"
        f" while reading response header from upstream, client: {client}, server: {server},"
        f' request: "GET {path} HTTP/1.1", upstream: "http://{upstream}:{port}{path}",'
        f' host: "{server}"'
    )


def parse(body: bytes, options: SourceOptions = NO_OPTIONS, content_type: str | None = None) -> Any:
    headers = {} if content_type is None else {"content-type": content_type}
    return nginx.parse(body, headers, options)


def test_registered_under_its_name() -> None:
    assert SOURCES["nginx"] is nginx


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


@pytest.mark.parametrize(
    ("level", "severity"),
    [
        ("emerg", Severity.CRITICAL),
        ("alert", Severity.CRITICAL),
        ("crit", Severity.CRITICAL),
        ("error", Severity.ERROR),
        ("warn", Severity.WARNING),
        ("notice", Severity.INFO),
        ("info", Severity.INFO),
        ("debug", Severity.INFO),
    ],
)
def test_levels(level: str, severity: Severity) -> None:
    (alert,) = parse(REFUSED.replace("[error]", f"[{level}]").encode()).alerts
    assert alert.severity is severity
    assert alert.labels["level"] == level


def test_alert_fields() -> None:
    options = SourceOptions(services={"shop.example.org": "shop"})
    (alert,) = parse(REFUSED.encode(), options).alerts
    assert alert.source == "nginx"
    assert alert.status is AlertStatus.FIRING
    assert alert.service == "shop"
    assert alert.title == "connect() failed (111: Connection refused) while connecting to upstream"
    assert alert.description == REFUSED
    assert alert.labels == {
        "service": "shop",
        "level": "error",
        "server": "shop.example.org",
        "upstream_host": "10.20.0.5",
    }
    assert "alertname" not in alert.labels
    assert alert.annotations["client"] == "198.51.100.7"
    assert alert.annotations["request"] == "POST /cart/checkout?id=77 HTTP/2.0"
    assert alert.starts_at == datetime(2024, 2, 29, 23, 59, 58, tzinfo=UTC)
    assert alert.fingerprint_fields == {
        "template": alert.title,
        "server": "shop.example.org",
        "upstream_host": "10.20.0.5",
    }


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


def test_service_lookup_order() -> None:
    text = line(server="shop.example.org", upstream="10.20.0.5").encode()
    by_all = SourceOptions(services={"shop.example.org": "a", "10.20.0.5": "b"})
    by_upstream = SourceOptions(services={"10.20.0.5": "b", "shop.example.org:443": "c"})
    assert parse(text, by_all).alerts[0].service == "a"
    assert parse(text, by_upstream).alerts[0].service == "b"
    host_only = (
        b"2024/03/01 12:00:00 [error] 1#1: *1 access forbidden by rule, client: 192.0.2.1,"
        b' server: _, request: "GET / HTTP/1.1", host: "files.example:8443"'
    )
    assert (
        parse(host_only, SourceOptions(services={"files.example": "files"})).alerts[0].service
        == "files"
    )
    assert parse(host_only, SourceOptions(services={"_": "x"})).alerts[0].service == UNKNOWN_SERVICE
    assert parse(text).alerts[0].service == UNKNOWN_SERVICE


def test_long_titles_are_shortened() -> None:
    text = "2024/03/01 12:00:00 [error] 1#1: " + "word " * 100
    (alert,) = parse(text.encode()).alerts
    assert len(alert.title) <= 200 and alert.title.endswith("…")


def test_text_body_counts_what_it_cannot_parse() -> None:
    body = "\n".join([REFUSED, ACCESS, "", "random junk", NO_CONN, STDERR, "\r"]).encode()
    result = parse(body)
    assert [a.labels["level"] for a in result.alerts] == ["error", "alert", "emerg"]
    assert result.unparsed == 2


def test_invalid_utf8_text_is_not_an_error() -> None:
    result = parse(REFUSED.encode() + b"\n\xff\xfe bad bytes\n")
    assert len(result.alerts) == 1 and result.unparsed == 1


@pytest.mark.parametrize("key", ["line", "message", "log"])
def test_json_object_body(key: str) -> None:
    result = parse(
        orjson.dumps({key: REFUSED, "host": "web1", "timestamp": "2024-01-01T00:00:00Z"})
    )
    assert len(result.alerts) == 1 and result.alerts[0].description == REFUSED


def test_json_array_and_ndjson_bodies() -> None:
    records = [{"message": REFUSED}, {"message": ACCESS}, {"other": 1}, NO_CONN]
    array = parse(orjson.dumps(records), content_type="application/json")
    assert (len(array.alerts), array.unparsed) == (2, 2)
    ndjson = b"\n".join(orjson.dumps(r) for r in records[:3]) + b"\n" + NO_CONN.encode() + b"\n"
    result = parse(ndjson, content_type="application/x-ndjson")
    assert (len(result.alerts), result.unparsed) == (2, 2)


def test_json_record_with_several_lines() -> None:
    result = parse(orjson.dumps({"message": REFUSED + "\n" + NO_CONN}))
    assert len(result.alerts) == 2


def test_text_starting_with_a_bracket_is_text() -> None:
    body = REFUSED[len("2024/02/29 23:59:58 ") :].encode()
    assert body.startswith(b"[error]")
    assert len(parse(body).alerts) == 1


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"42", "body"),
        (b'"text"', "body"),
        (b'{"message": 5}', "message"),
        (b'[{"line": "x"}, {"line": null}]', "records[1].line"),
        (b"[1]", "records[0]"),
        (b'{"message": "x"}\n{"message": []}\n', "records[1].message"),
    ],
)
def test_wrong_json_shapes_name_the_field(raw: bytes, field: str) -> None:
    error = payload_error(nginx, raw, {"content-type": "application/json"})
    assert (error.field, error.status_code) == (field, 422)


def test_hostile_long_lines_are_capped() -> None:
    hostile = REFUSED + ', a: "b' * 50_000
    parsed = parse_error_line(hostile)
    assert parsed is not None and len(parsed.text) <= MAX_LINE
    assert parsed.server == "shop.example.org"


def test_plain_text_body_that_looks_like_a_json_scalar_is_a_line() -> None:
    assert (parse(b"42").alerts, parse(b"42").unparsed) == ([], 1)
