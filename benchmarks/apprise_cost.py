"""CPU per notification through apprise (not a test): what one page to a user contact
costs the server, against the native json:// sender on the shared keep-alive pool
(integrations/notifiers/json_webhook.py, byte for byte apprise's request), and a bare
keep-alive httpx POST of the same size for comparison.

    .venv/bin/python benchmarks/apprise_cost.py [-n 300]

All post to a loopback HTTP sink in a child process, one at a time; the figures are
this process's user+system CPU per send and sends per second. The two notifier lines
send a whole page the way the paging worker does (render, then `await send`).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import resource
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import apprise
import httpx
from bench_support import free_port

from integrations.notifiers.apprise import AppriseNotifier
from integrations.notifiers.base import Notification
from integrations.notifiers.http_pool import HttpPool
from integrations.notifiers.json_webhook import JsonNotifier
from routing.intake.alert import Severity


class _Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


def _serve(port: int) -> None:
    ThreadingHTTPServer(("127.0.0.1", port), _Sink).serve_forever()


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(name: str, n: int, send: Callable[[int], object]) -> None:
    send(-1)  # warm: plugin loading, first connection
    cpu, started = _cpu(), time.perf_counter()
    for i in range(n):
        send(i)
    wall, used = time.perf_counter() - started, _cpu() - cpu
    print(f"{name}: {n / wall:,.0f} sends/s, {used / n * 1000:.2f} ms CPU per send")


def _page(i: int) -> Notification:
    now = datetime.now(UTC)
    return Notification(
        incident_id=i + 2,
        incident_title="High error rate on checkout API",
        severity=Severity.CRITICAL,
        service="checkout",
        status="triggered",
        occurrences=1,
        first_seen=now,
        last_seen=now,
        recipient="alice",
        ack_hint=f"POST http://127.0.0.1/api/v1/incidents/{i + 2}/ack",
        summaries=[f"host-{i}:9100 API 5xx above 5% for 10m"],
    )


async def _measured(notifier: JsonNotifier | AppriseNotifier, url: str, n: int) -> float:
    await notifier.send(url, _page(-1))
    cpu, started = _cpu(), time.perf_counter()
    for i in range(n):
        result = await notifier.send(url, _page(i))
        assert result.ok, result.detail
    wall, used = time.perf_counter() - started, _cpu() - cpu
    name = (
        "native json:// (JsonNotifier, pool)"
        if isinstance(notifier, JsonNotifier)
        else ("apprise json:// (AppriseNotifier)")
    )
    print(f"{name}: {n / wall:,.0f} sends/s, {used / n * 1000:.2f} ms CPU per send")
    return used / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=300, help="sends per client")
    args = parser.parse_args()
    port = free_port()
    sink = multiprocessing.Process(target=_serve, args=(port,), daemon=True)
    sink.start()
    time.sleep(0.5)
    url = f"127.0.0.1:{port}/page"
    notifier = apprise.Apprise()
    notifier.add(f"json://{url}")
    body = "[CRITICAL] High error rate on checkout API\ninstance host-{i}:9100 ..."
    measure(
        "apprise json://",
        args.n,
        lambda i: notifier.notify(body=body.format(i=i), title="[CRITICAL] page"),
    )
    page_url = f"json://{url}"
    apprise_cpu = asyncio.run(_measured(AppriseNotifier(), page_url, args.n))

    async def native() -> float:
        pool = HttpPool()
        try:
            return await _measured(JsonNotifier(pool.acquire(), pool.unverified), page_url, args.n)
        finally:
            await pool.release()

    native_cpu = asyncio.run(native())
    print(f"native / apprise CPU per page: {native_cpu / apprise_cpu:.2f}")
    with httpx.Client() as client:
        measure(
            "httpx keep-alive POST",
            args.n,
            lambda i: client.post(f"http://{url}", json={"message": body.format(i=i)}),
        )
    sink.terminate()


if __name__ == "__main__":
    main()
