"""CPU per notification through apprise (not a test): what one page to a user contact
costs the server, against a keep-alive httpx POST of the same size for comparison.

    .venv/bin/python benchmarks/apprise_cost.py [-n 300]

Both post to a loopback HTTP sink in a child process, one at a time; the figures are
this process's user+system CPU per send and sends per second.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import apprise
import httpx
from bench_support import free_port


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
    with httpx.Client() as client:
        measure(
            "httpx keep-alive POST",
            args.n,
            lambda i: client.post(f"http://{url}", json={"message": body.format(i=i)}),
        )
    sink.terminate()


if __name__ == "__main__":
    main()
