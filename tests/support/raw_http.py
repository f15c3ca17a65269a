"""A loopback HTTP(S) sink that records requests exactly as they arrived, for contract tests.

Unlike loopback_http it keeps the raw request target (path and query as sent), every
header in its order and case, any method (PUT, UPDATE, ...), the whole request exactly as
its bytes arrived (request line, header block, body; `raw`, part of equality), and counts
the TCP connections it accepted, so a test can compare two senders byte for byte and see
a pool reuse its connections.

    with RawSink() as sink:            # or RawSink(tls=context) for https
        ...
        assert sink.requests[0].target == "/hook?x=1"
"""

from __future__ import annotations

import ssl
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self


@dataclass(frozen=True)
class RawRequest:
    method: str
    target: str  # the request-target as sent: path and query, still percent-encoded
    headers: tuple[tuple[str, str], ...]  # in order, names as sent
    body: bytes
    # Every byte of the request as received: the parsed fields above hide whitespace,
    # the HTTP version and line endings; equality compares these too.
    raw: bytes = b""

    def header_map(self) -> dict[str, str]:
        return {name.lower(): value for name, value in self.headers}


@dataclass(frozen=True)
class RawReply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"


class RawSink:
    def __init__(
        self,
        reply: Callable[[RawRequest], RawReply] | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.reply = reply or (lambda _request: RawReply())
        self.requests: list[RawRequest] = []
        self.connections = 0
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        self._httpd.daemon_threads = True
        if tls is not None:
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _handler_class(sink: RawSink) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            self.rfile = _Recording(self.rfile)
            with sink._lock:
                sink.connections += 1

        def __getattr__(self, name: str) -> Any:
            if name.startswith("do_"):  # any method, as sent
                return self._handle
            raise AttributeError(name)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            raw = self.rfile.take()  # type: ignore[attr-defined]
            headers = tuple(self.headers.items())
            request = RawRequest(self.command, self.path, headers, body, raw)
            with sink._lock:
                sink.requests.append(request)
            reply = sink.reply(request)
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return _Handler


class _Recording:
    """The connection's read side, keeping every byte read since the last take()."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._seen = bytearray()

    def readline(self, limit: int = -1) -> bytes:
        line: bytes = self._inner.readline(limit)
        self._seen += line
        return line

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._inner.read(size)
        self._seen += data
        return data

    def take(self) -> bytes:
        seen, self._seen = bytes(self._seen), bytearray()
        return seen

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def self_signed_context(folder: Path) -> ssl.SSLContext:
    """A server TLS context with a fresh self-signed certificate for 127.0.0.1
    (made with `openssl req`, which every test machine here has)."""
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out", str(cert),
            "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context
