"""The paging-latency benchmark's rig (helper of benchmarks/paging_latency.py): the
instrumented `firebell serve` child process (its config, start-up, and the wrapped
`AppriseNotifier.send` that notes hand-off times), and the open-loop webhook load that
drives it and waits for the pages at the sink.

This file is also the server child's entry point: `paging_latency.py` starts it as
`python paging_rig.py --serve-instrumented <handoff.json> serve ...`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from bench_support import HOST, Sink, content_length, upgrade_database, wait_until_listening
from sqlalchemy import create_engine, func, select

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from routing.paging.outbox import INCIDENT  # noqa: E402
from routing.storage.database import sqlalchemy_url  # noqa: E402

INSTANCE = re.compile(rb"bench-(\d{7}):9100")
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


def start_server(
    database_url: str, sink_port: int, port: int, workdir: Path
) -> subprocess.Popen[bytes]:
    config = workdir / "firebell.yaml"
    config.write_text(config_text(database_url, sink_port))
    env = {**os.environ, "FIREBELL_CONFIG": str(config), "PYTHONPATH": str(REPO)}
    if not database_url.startswith("sqlite"):
        upgrade_database(env, workdir)
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
    if wait_until_listening(proc, port):
        return proc
    proc.kill()
    raise SystemExit("server did not start:\n" + (workdir / "server.log").read_text()[-3000:])


def incident_count(database_url: str) -> int:
    engine = create_engine(sqlalchemy_url(database_url))
    with engine.connect() as conn:
        count = int(conn.execute(select(func.count()).select_from(INCIDENT)).scalar_one())
    engine.dispose()
    return count


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


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == SERVE:
        sys.exit(serve_instrumented(sys.argv[2], sys.argv[3:]))
    raise SystemExit("a helper of benchmarks/paging_latency.py: run that instead")
