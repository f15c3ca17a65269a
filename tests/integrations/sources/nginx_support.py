"""Shared by the nginx source tests: sample error.log lines and parsing a body."""

from __future__ import annotations

from typing import Any

from integrations.sources import SourceOptions
from integrations.sources.nginx import nginx

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
