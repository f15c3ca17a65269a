"""Paging-latency benchmark (not a test): webhook accepted -> page handed to the notifier,
and -> page arriving at a loopback apprise json:// sink, p50/p99, at a fixed alert rate.

    .venv/bin/python benchmarks/paging_latency.py                       # 100 alerts/s, 10 s, SQLite
    .venv/bin/python benchmarks/paging_latency.py --rate 1000
    .venv/bin/python benchmarks/paging_latency.py --rate 1000 \\
        --database-url postgresql://postgres@127.0.0.1:5432/fb_paging_bench   # an empty database

Set-up: a loopback HTTP sink in a child process records the arrival time and body of
every POST; the config has one user whose contact is `json://127.0.0.1:<sink>/page`, a
one-step escalation policy for that user, a root route with `group_wait: 0s` and
`grouping.group_by: [instance]`; `firebell serve` runs on a free port. Every webhook
carries one new alert with a unique `instance` label, so each opens an incident and
pages exactly once. Webhooks are sent open loop: each at its scheduled instant, never
waiting for earlier answers (an idle keep-alive connection is reused, else a new one
opens).

The three instants per alert, all wall clock (`time.time()`) on this one machine:
  * accepted: the client has the 202 (the server answers only after the commit);
  * handed to the notifier: the server is started through this file, which wraps
    `AppriseNotifier.send` to note the time and the alert's summary line as the worker
    calls it (nothing else in the server changes) and writes them out at shutdown;
  * arrival at the sink: the sink found the alert's `instance` label in a body.
An accepted alert never handed over, or never found at the sink, is counted missing.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import multiprocessing
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import create_engine, func, select

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from routing.paging.outbox import INCIDENT  # noqa: E402
from routing.storage.database import sqlalchemy_url  # noqa: E402

INSTANCE = re.compile(rb"bench-(\d{7}):9100")
HOST = "127.0.0.1"
KEEP_ALIVE = 3.0  # seconds an idle connection is reused (uvicorn closes them after 5)
WARMUP_BASE = 9_000_000  # warm-up alerts' instance numbers, apart from the measured ones
SERVE = "--serve-instrumented"  # argv[1] when this file runs as the server


# ---------------------------------------------------------------- the server (child process)


def serve_instrumented(handoff_file: str, cli_args: list[str]) -> int:
    """`firebell serve` with AppriseNotifier.send wrapped to note (time, instances)."""
    from bot.cli.main import main as cli_main
    from integrations.notifiers.apprise import AppriseNotifier

    handed: list[tuple[float, str]] = []
    original = AppriseNotifier.send

    async def send(self: AppriseNotifier, target: str, notification: Any) -> Any:
        handed.append((time.time(), " ".join(notification.summaries)))
        return await original(self, target, notification)

    AppriseNotifier.send = send  # type: ignore[method-assign]
    # uvicorn re-raises the SIGTERM it shut down on once it is done: with this (no-op)
    # handler in place that returns here instead of killing the process before the write.
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        return cli_main(cli_args)
    finally:
        Path(handoff_file).write_text(json.dumps(handed))


def config_text(database_url: str, sink_port: int) -> str:
    return f"""\
database_url: "{database_url}"
users:
  - {{name: bench, contacts: ["json://{HOST}:{sink_port}/page"]}}
escalation_policies:
  - name: bench
    steps:
      - {{notify: ["user:bench"], wait: 1h}}
grouping:
  group_by: [instance]  # every alert its own incident, so every alert pages
  group_wait: 0s
route:
  group_wait: 0s
  receiver: {{escalation: bench}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def start_server(
    database_url: str, sink_port: int, port: int, workdir: Path
) -> subprocess.Popen[bytes]:
    config = workdir / "firebell.yaml"
    config.write_text(config_text(database_url, sink_port))
    env = {**os.environ, "FIREBELL_CONFIG": str(config), "PYTHONPATH": str(REPO)}
    if not database_url.startswith("sqlite"):
        subprocess.run(
            [sys.executable, "-m", "bot.cli.main", "db", "upgrade"],
            env=env,
            check=True,
            cwd=workdir,
            timeout=120,
        )
        if incident_count(database_url):
            raise SystemExit("--database-url must name an empty database (it has incidents)")
    log = (workdir / "server.log").open("wb")
    serve = ["serve", "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(
        [sys.executable, __file__, SERVE, str(workdir / "handoff.json"), *serve],
        env=env,
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection((HOST, port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start:\n" + (workdir / "server.log").read_text()[-3000:])


def incident_count(database_url: str) -> int:
    engine = create_engine(sqlalchemy_url(database_url))
    with engine.connect() as conn:
        count = int(conn.execute(select(func.count()).select_from(INCIDENT)).scalar_one())
    engine.dispose()
    return count


# ---------------------------------------------------------------- the sink (child process)


def run_sink(port_out: Connection, control: Connection, arrived: Synchronized[int]) -> None:
    """A minimal HTTP/1.1 server: 200 `{}` to every request; on "stop" it sends back the
    (arrival time, body) records. Its own process, so its timestamps never wait for the
    load generator's event loop."""
    records: list[tuple[float, bytes]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                body = await reader.readexactly(content_length(head))
                records.append((time.time(), body))
                with arrived.get_lock():
                    arrived.value += 1
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 2\r\n\r\n{}"
                )
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


def content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0


class Sink:
    def __init__(self) -> None:
        ctx = multiprocessing.get_context("fork")
        port_recv, port_send = ctx.Pipe(duplex=False)
        self._control, child_control = ctx.Pipe()
        self.arrived: Synchronized[int] = ctx.Value("i", 0)
        self._proc = ctx.Process(
            target=run_sink, args=(port_send, child_control, self.arrived), daemon=True
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


# ---------------------------------------------------------------- the load


def webhook(i: int, services: int = 1) -> bytes:
    instance = f"bench-{i:07d}:9100"
    labels = {
        "alertname": "PagingBench",
        "instance": instance,
        "severity": "critical",
        "service": f"bench-{i % services}" if services > 1 else "bench",
    }
    alert = {
        "status": "firing",
        "labels": labels,
        "annotations": {"summary": f"paging benchmark alert {i}"},
        "startsAt": "2026-05-04T09:58:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": hashlib.sha256(instance.encode()).hexdigest()[:16],
    }
    body = {
        "version": "4",
        "groupKey": '{}:{instance="' + instance + '"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "firebell",
        "groupLabels": {"instance": instance},
        "commonLabels": labels,
        "commonAnnotations": alert["annotations"],
        "externalURL": "http://alertmanager:9093",
        "alerts": [alert],
    }
    payload = json.dumps(body).encode()
    return (
        f"POST /webhooks/alertmanager HTTP/1.1\r\nHost: {HOST}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload


@dataclass
class Sent:
    scheduled: float
    sent: float = 0.0
    accepted: float = 0.0  # when the answer arrived
    status: int = 0


@dataclass
class Load:
    """Keep-alive connections: an idle one is reused, a new one opens when all are busy."""

    port: int
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = field(
        default_factory=list
    )
    opened: int = 0
    errors: Counter[str] = field(default_factory=Counter)

    async def connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        while self.idle:
            reader, writer, since = self.idle.pop()
            if time.monotonic() - since < KEEP_ALIVE:
                return reader, writer
            writer.close()  # the server may be closing it right now: do not race it
        try:
            opened = await asyncio.open_connection(HOST, self.port)
        except OSError as exc:
            self.errors[exc.__class__.__name__] += 1
            return None
        self.opened += 1
        return opened

    async def post(self, request: bytes, record: Sent) -> None:
        opened = await self.connection()
        if opened is None:
            return
        reader, writer = opened
        try:
            record.sent = time.time()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(content_length(head))
            record.accepted = time.time()
            record.status = int(head.split(b" ", 2)[1])
        except (OSError, asyncio.IncompleteReadError) as exc:
            self.errors[exc.__class__.__name__] += 1
            writer.close()
            return
        self.idle.append((reader, writer, time.monotonic()))

    def close(self) -> None:
        for _, writer, _ in self.idle:
            writer.close()


async def sample_rss(pid: int, peak: list[int], stop: asyncio.Event) -> None:
    process = psutil.Process(pid)
    while not stop.is_set():
        peak[0] = max(peak[0], int(process.memory_info().rss))
        await asyncio.sleep(0.1)


async def wait_for_sink(sink: Sink, count: int, timeout: float) -> None:
    deadline = time.time() + timeout  # bounded: a stuck server must not hang the benchmark
    while sink.arrived.value < count and time.time() < deadline:
        await asyncio.sleep(0.05)


async def drive(
    args: argparse.Namespace, port: int, server_pid: int, sink: Sink
) -> tuple[list[Sent], Load, int, float]:
    """Warm up (imports, apprise's plugin, the first connections), then send at the rate
    and wait for the sink to have as many pages as alerts were accepted."""
    load = Load(port)
    for k in range(args.warmup):  # one at a time, each waited for; not counted
        await load.post(webhook(WARMUP_BASE + k), Sent(0.0))
        await wait_for_sink(sink, k + 1, 10)
    warm = sink.arrived.value

    count = int(args.rate * args.duration)
    requests = [webhook(i, args.services) for i in range(count)]  # built up front: not on the clock
    peak = [0]
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_rss(server_pid, peak, stop))
    server = psutil.Process(server_pid)
    cpu_before = sum(server.cpu_times()[:2])
    start = time.time() + 0.2
    sent = [Sent(start + i / args.rate) for i in range(count)]
    tasks = []
    for request, record in zip(requests, sent, strict=True):
        delay = record.scheduled - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(load.post(request, record)))
    await asyncio.gather(*tasks)
    accepted = sum(1 for r in sent if r.status == 202)
    await wait_for_sink(sink, warm + accepted, args.drain)
    cpu_used = sum(server.cpu_times()[:2]) - cpu_before  # until the last page went out
    await asyncio.sleep(0.3)  # let a late duplicate land before counting
    stop.set()
    await sampler
    load.close()
    return sent, load, peak[0], cpu_used


# ---------------------------------------------------------------- report


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest rank: the smallest value with at least q of all values at or below it."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def figure(label: str, values: Sequence[float]) -> str:
    ms = [v * 1000 for v in values]
    return (
        f"{label:<36} p50 {percentile(ms, 0.5):7.1f} ms  p99 {percentile(ms, 0.99):7.1f} ms  "
        f"max {max(ms, default=float('nan')):7.1f} ms  (n={len(ms)})"
    )


def first_times(events: Sequence[tuple[float, bytes]]) -> tuple[dict[int, float], int]:
    """The first time each measured instance appears; and how many events name one
    already seen (a duplicate page)."""
    first: dict[int, float] = {}
    duplicates = 0
    for at, text in events:
        for i in {int(match) for match in INSTANCE.findall(text)}:
            if i >= WARMUP_BASE:
                continue
            if i in first:
                duplicates += 1
                first[i] = min(first[i], at)
            else:
                first[i] = at
    return first, duplicates


def report(
    args: argparse.Namespace,
    db: str,
    sent: list[Sent],
    load: Load,
    peak_rss: int,
    cpu_used: float,
    handed: list[tuple[float, str]],
    records: list[tuple[float, bytes]],
) -> None:
    handed_at, handed_twice = first_times([(t, s.encode()) for t, s in handed])
    arrived_at, arrived_twice = first_times(records)
    accepted = {i: r for i, r in enumerate(sent) if r.status == 202}
    statuses = Counter(r.status for r in sent)
    span = max((r.accepted for r in accepted.values()), default=0.0) - sent[0].scheduled

    print(
        f"paging latency: {args.rate:g} alerts/s for {args.duration:g} s, db={db}, "
        f"services={args.services}"
    )
    print(
        f"  webhooks sent {len(sent)}, accepted {len(accepted)} "
        f"({len(accepted) / max(span, 1e-9):.0f}/s), responses {dict(sorted(statuses.items()))}, "
        f"client connections {load.opened}"
        + (f", client errors {dict(load.errors)}" if load.errors else "")
    )
    print(
        "  " + figure("client lag behind schedule", [r.sent - r.scheduled for r in sent if r.sent])
    )
    print("  " + figure("send -> accepted (202)", [r.accepted - r.sent for r in accepted.values()]))
    print(
        "  "
        + figure(
            "accepted -> handed to notifier",
            [handed_at[i] - r.accepted for i, r in accepted.items() if i in handed_at],
        )
    )
    print(
        "  "
        + figure(
            "accepted -> arrived at sink",
            [arrived_at[i] - r.accepted for i, r in accepted.items() if i in arrived_at],
        )
    )
    print(
        f"  missing: not handed over {sum(i not in handed_at for i in accepted)}, "
        f"not at sink {sum(i not in arrived_at for i in accepted)} "
        f"({args.drain:g} s after the last send); duplicates: handed {handed_twice}, "
        f"at sink {arrived_twice}"
    )
    per_second: dict[int, list[float]] = {}
    for i, r in accepted.items():
        if i in arrived_at:
            per_second.setdefault(int(r.scheduled - sent[0].scheduled), []).append(
                arrived_at[i] - r.accepted
            )
    trend = " ".join(f"{percentile(v, 0.99) * 1000:.0f}" for _, v in sorted(per_second.items()))
    print(f"  accepted -> sink p99 (ms) per second of sending: {trend}")
    print(f"  server peak RSS {peak_rss / 2**20:.1f} MiB")
    if accepted:
        # CPU, not wall time, bounds the rate: one core pages at most 1 / this per second.
        print(
            f"  server CPU {cpu_used / len(accepted) * 1000:.2f} ms per accepted alert "
            "(webhook, incident, routing, page, apprise send)"
        )


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == SERVE:
        sys.exit(serve_instrumented(sys.argv[2], sys.argv[3:]))
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rate", type=float, default=100, help="alerts (webhooks) per second")
    parser.add_argument("--duration", type=float, default=10, help="seconds of sending")
    parser.add_argument("--warmup", type=int, default=20, help="alerts sent first, not counted")
    parser.add_argument("--drain", type=float, default=30, help="max seconds to await pages")
    parser.add_argument(
        "--services",
        type=int,
        default=1,
        help="spread the alerts over this many services (grouping looks at one service's "
        "open incidents, so with one service that cost grows with every alert sent)",
    )
    parser.add_argument("--database-url", help="an empty database; default: SQLite in a temp dir")
    parser.add_argument(
        "--profile", type=Path, help="py-spy the server while sending (collapsed stacks)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        database_url = args.database_url or f"sqlite:///{workdir}/bench.db"
        sink = Sink()
        try:
            port = free_port()
            proc = start_server(database_url, sink.port, port, workdir)
            profiler = None
            try:
                if args.profile:
                    py_spy = Path(sys.executable).with_name("py-spy")
                    profiler = subprocess.Popen(
                        [
                            *(str(py_spy), "record", "--pid", str(proc.pid), "--nonblocking"),
                            *("--threads", "--format", "raw", "-o", str(args.profile)),
                            *("--duration", str(int(args.duration + 2))),
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                sent, load, peak_rss, cpu_used = asyncio.run(drive(args, port, proc.pid, sink))
                if profiler is not None:
                    profiler.wait(timeout=60)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
        finally:
            records = sink.stop()
        handoff = workdir / "handoff.json"
        handed = [(t, s) for t, s in json.loads(handoff.read_text())] if handoff.exists() else []
        if not handoff.exists():
            print("the server wrote no hand-off times:\n" + (workdir / "server.log").read_text())
    db = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    report(args, db, sent, load, peak_rss, cpu_used, handed, records)


if __name__ == "__main__":
    main()
