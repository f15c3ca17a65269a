"""Generic helpers shared by the benchmark scripts (not a test): a free loopback port,
waiting for a started server to listen, HTTP head parsing, a nearest-rank percentile, and
a loopback HTTP sink in its own process that records when each POST arrived.

The scripts run as `.venv/bin/python benchmarks/<script>.py`, so this folder is on
`sys.path` and they import it as `bench_support`.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def upgrade_database(env: dict[str, str], workdir: Path) -> None:
    """`firebell db upgrade` for a PostgreSQL bench database (serve migrates SQLite itself)."""
    subprocess.run(
        [sys.executable, "-m", "bot.cli", "db", "upgrade"],
        env=env,
        check=True,
        cwd=workdir,
        timeout=120,
    )


def wait_until_listening(proc: subprocess.Popen[bytes], port: int, timeout: float = 30) -> bool:
    """True once something accepts connections on the loopback `port`; False if `proc`
    exits or `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection((HOST, port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest rank: the smallest value with at least q of all values at or below it."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


# ---------------------------------------------------------------- the sink (child process)


def run_sink(
    port_out: Connection, control: Connection, arrived: Synchronized[int], reply: bytes = b"{}"
) -> None:
    """A minimal HTTP/1.1 server: 200 with the JSON `reply` to every request; on "stop" it
    sends back the (arrival time, body) records. Its own process, so its timestamps never
    wait for the load generator's event loop."""
    records: list[tuple[float, bytes]] = []
    answer = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(reply)}\r\n\r\n".encode()
        + reply
    )

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                body = await reader.readexactly(content_length(head))
                records.append((time.time(), body))
                with arrived.get_lock():
                    arrived.value += 1
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client closed its keep-alive connection
        finally:
            writer.close()

    async def serve() -> None:
        server = await asyncio.start_server(handle, HOST, 0, backlog=1024)
        port_out.send(server.sockets[0].getsockname()[1])
        stop = asyncio.Event()
        asyncio.get_running_loop().add_reader(control.fileno(), stop.set)
        await stop.wait()
        server.close()

    asyncio.run(serve())
    control.recv()  # the "stop" that woke us
    control.send(records)


class Sink:
    """The sink's process: `port` to send to, `arrived` counts requests so far, and
    `stop()` ends it and returns the (arrival time, body) of every request. It answers
    every request with `reply` (e.g. a Loki query_range answer)."""

    def __init__(self, reply: bytes = b"{}") -> None:
        ctx = multiprocessing.get_context("fork")
        port_recv, port_send = ctx.Pipe(duplex=False)
        self._control, child_control = ctx.Pipe()
        self.arrived: Synchronized[int] = ctx.Value("i", 0)
        self._proc = ctx.Process(
            target=run_sink, args=(port_send, child_control, self.arrived, reply), daemon=True
        )
        self._proc.start()
        if not port_recv.poll(10):
            self._proc.kill()
            raise SystemExit("the sink did not start")
        self.port: int = port_recv.recv()

    def stop(self) -> list[tuple[float, bytes]]:
        self._control.send("stop")
        records: list[tuple[float, bytes]] = self._control.recv() if self._control.poll(30) else []
        self._proc.join(timeout=10)
        if self._proc.is_alive():
            self._proc.kill()
        return records
