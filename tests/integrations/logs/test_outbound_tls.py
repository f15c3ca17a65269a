"""HTTPS through the guarded client: the socket goes to the checked IP, while TLS still
sends the name (SNI) and verifies the certificate against it."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from integrations.logs.base import HttpCall
from integrations.logs.loki import LokiConnection
from integrations.outbound import Outbound, OutboundRefused, OutboundResponse

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
TOKEN = "tls-test-token-123"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=logs.example",
         "-addext", "subjectAltName=DNS:logs.example"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@contextmanager
def https_server(cert: Path, key: Path) -> Iterator[tuple[int, list[str], list[str]]]:
    server_names: list[str] = []
    hosts: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            hosts.append(self.headers["Host"])
            if self.path == "/downgrade":
                self.send_response(302)
                self.send_header("Location", f"http://{self.headers['Host']}/ready")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_: object) -> None:
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    def remember_name(_sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        server_names.append(name or "")

    context.sni_callback = remember_name
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        yield httpd.server_address[1], server_names, hosts
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def send(url: str, cert: Path, path: str = "/ready") -> OutboundResponse:
    table = {"logs.example": ["127.0.0.1"], "other.example": ["127.0.0.1"]}
    conn = LokiConnection(type="loki", url=url, allow_private=True, token=TOKEN)

    async def go() -> OutboundResponse:
        outbound = Outbound(
            lambda host, _port: table[host], ssl.create_default_context(cafile=cert)
        )
        try:
            return await outbound.send(conn, HttpCall("GET", path))
        finally:
            await outbound.aclose()

    return asyncio.run(go())


def test_https_to_the_checked_ip_sends_the_name_and_verifies_it(
    certificate: tuple[Path, Path],
) -> None:
    cert, key = certificate
    with https_server(cert, key) as (port, server_names, hosts):
        response = send(f"https://logs.example:{port}", cert)
        assert response.status == 200 and response.body == b"ok"
        assert server_names == ["logs.example"] and hosts == [f"logs.example:{port}"]

        # Same IP, a name the certificate does not cover: verification fails.
        with pytest.raises(OutboundRefused) as caught:
            send(f"https://other.example:{port}", cert)
    assert "ConnectError" in str(caught.value) and TOKEN not in str(caught.value)


def test_a_redirect_from_https_to_http_is_refused(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    refused = pytest.raises(OutboundRefused, match="redirected from https to http")
    with https_server(cert, key) as (port, _, hosts), refused:
        send(f"https://logs.example:{port}", cert, "/downgrade")
    assert hosts == [f"logs.example:{port}"]  # the token never went out in clear text
