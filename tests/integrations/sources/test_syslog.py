"""Syslog framing for nginx: RFC 3164 payloads and TCP stream splitting."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integrations.sources.nginx_line import parse_error_line
from integrations.sources.syslog import parse_syslog_message, split_tcp_frames

NGINX_LINE = (
    "2024/03/01 09:05:07 [error] 41#41: *9 connect() failed (111: Connection refused) while"
    ' connecting to upstream, client: 192.0.2.4, server: api.example, request: "GET / HTTP/1.1",'
    ' upstream: "http://10.0.0.9:9000/", host: "api.example"'
)


@pytest.mark.parametrize(
    "header",
    [
        "<187>Mar  1 09:05:07 web1 nginx: ",  # local7.err, space-padded day
        "<187>Mar 11 09:05:07 web1 nginx: ",
        "<187>Mar  1 09:05:07 nginx: ",  # `nohostname`
        "<187>Mar  1 09:05:07 web1.example.org custom_tag: ",
        "<3>Mar  1 09:05:07 web1 nginx[41]: ",
    ],
)
def test_payload_is_the_whole_nginx_line(header: str) -> None:
    payload = parse_syslog_message((header + NGINX_LINE).encode())
    assert payload == NGINX_LINE
    parsed = parse_error_line(payload)
    assert parsed is not None and parsed.server == "api.example"


def test_trailing_newline_and_nul_are_ignored() -> None:
    datagram = f"<187>Mar  1 09:05:07 web1 nginx: {NGINX_LINE}\n\x00".encode()
    assert parse_syslog_message(datagram) == NGINX_LINE


@pytest.mark.parametrize(
    "datagram",
    [
        b"",
        b"hello",
        NGINX_LINE.encode(),
        b"<999>Mar  1 09:05:07 web1 nginx: x",  # PRI beyond 191
        b"<187>2024-03-01T09:05:07Z web1 nginx - - - x",  # RFC 5424 is not what nginx sends
        b"<187>Mar  1 09:05:07 web1 nginx: ",  # nothing in it
    ],
)
def test_not_an_rfc3164_message(datagram: bytes) -> None:
    assert parse_syslog_message(datagram) is None


def test_invalid_utf8_is_replaced() -> None:
    payload = parse_syslog_message(b"<187>Mar  1 09:05:07 web1 nginx: bad \xff byte")
    assert payload == "bad \ufffd byte"


def octet(message: bytes) -> bytes:
    return str(len(message)).encode() + b" " + message


def test_octet_counted_frames() -> None:
    stream = octet(b"<187>one") + octet(b"<187>two\nwith newline") + b"11 <187>thr"
    frames, rest = split_tcp_frames(stream)
    assert frames == [b"<187>one", b"<187>two\nwith newline"]
    assert rest == b"11 <187>thr"
    frames, rest = split_tcp_frames(rest + b"ee!")
    assert (frames, rest) == ([b"<187>three!"], b"")


def test_newline_delimited_frames() -> None:
    frames, rest = split_tcp_frames(b"<187>a\r\n\n<187>b\n<187>partial")
    assert (frames, rest) == ([b"<187>a", b"<187>b"], b"<187>partial")


def test_mixed_and_malformed_prefixes_resynchronize() -> None:
    frames, rest = split_tcp_frames(b"5 <1>ab\n12x <187>oops\n<187>c\n")
    assert frames == [b"<1>ab", b"12x <187>oops", b"<187>c"]
    assert rest == b""


def test_incomplete_length_prefix_waits_for_more() -> None:
    assert split_tcp_frames(b"12") == ([], b"12")
    assert split_tcp_frames(b"") == ([], b"")


def test_oversized_frames_are_cut_so_the_buffer_stays_bounded() -> None:
    frames, rest = split_tcp_frames(b"x" * 50, max_frame=16)
    assert frames == [b"x" * 16] * 3 and rest == b"x" * 2
    frames, rest = split_tcp_frames(b"999 " + b"y" * 10 + b"\n", max_frame=16)
    assert frames == [b"999 " + b"y" * 10] and rest == b""


messages = st.lists(
    st.binary(min_size=1, max_size=40).map(lambda b: b"<187>" + b), min_size=1, max_size=8
)


@given(messages=messages, cuts=st.lists(st.integers(0, 400), max_size=6))
def test_octet_counted_stream_in_any_chunks_gives_the_same_frames(
    messages: list[bytes], cuts: list[int]
) -> None:
    stream = b"".join(octet(m) for m in messages)
    got: list[bytes] = []
    buffer = b""
    edges = sorted({c % (len(stream) + 1) for c in cuts} | {len(stream)})
    start = 0
    for edge in edges:
        buffer += stream[start:edge]
        start = edge
        frames, buffer = split_tcp_frames(buffer)
        got.extend(frames)
    assert got == messages and buffer == b""


@given(
    messages=st.lists(
        st.binary(min_size=1, max_size=40).filter(lambda b: b"\n" not in b and b.strip()),
        min_size=1,
        max_size=8,
    ).map(lambda ms: [b"<187>" + m.rstrip(b"\r") for m in ms]),
    cuts=st.lists(st.integers(0, 400), max_size=6),
)
def test_newline_stream_in_any_chunks_gives_the_same_frames(
    messages: list[bytes], cuts: list[int]
) -> None:
    stream = b"".join(m + b"\n" for m in messages)
    got: list[bytes] = []
    buffer = b""
    start = 0
    for edge in sorted({c % (len(stream) + 1) for c in cuts} | {len(stream)}):
        buffer += stream[start:edge]
        start = edge
        frames, buffer = split_tcp_frames(buffer)
        got.extend(frames)
    assert got == messages and buffer == b""


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    frames, rest = split_tcp_frames(data, max_frame=64)
    assert len(rest) < 64 + 12
    assert all(frames)
    payload = parse_syslog_message(data)
    assert payload is None or isinstance(payload, str)
