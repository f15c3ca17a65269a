"""Paging-latency benchmark (not a test): webhook accepted -> page handed to the notifier -> page
arriving at a loopback apprise json:// sink, p50/p99, at a fixed open-loop alert rate.

    .venv/bin/python benchmarks/paging_latency.py                       # 100 alerts/s, 10 s, SQLite
    .venv/bin/python benchmarks/paging_latency.py --rate 1000
    .venv/bin/python benchmarks/paging_latency.py --rate 1000 \\
        --database-url postgresql://postgres@127.0.0.1:5432/fb_paging_bench   # an empty database
    .venv/bin/python benchmarks/paging_latency.py --rate 1000 --profile /tmp/server.txt  # py-spy

It starts a loopback HTTP sink in a child process (records the arrival time and body of
every POST), writes a config with one user whose contact is `json://127.0.0.1:<sink>/page`,
a one-step escalation policy for that user and a root route with `group_wait: 0s`, and
`grouping.group_by: [instance]`, and starts `python -m bot.cli serve` on a free port. It then posts
one Alertmanager webhook per alert at `--rate` per second for `--duration` seconds. Sends
are scheduled in advance and never wait for earlier answers (open loop); each goes out on
an idle keep-alive connection, a new one opening when all are busy.

Every webhook carries one new alert with a unique `instance` label, so each opens an
incident and pages once. An alert counts as arrived when its instance label is found in
a body the sink received; an accepted alert never found is missing.

Times are wall-clock (`time.time()`), so they compare with the server's database rows.
The server cannot report the instant each page is handed to its notifier, so the server
side is given in two parts, named for where they come from:
  * incident created -> delivering pass started: per alert, from the database (the
    incident's `created_at` is the intake batch's start; a sent row's `sent_at` is the
    start of the worker pass that sent it);
  * pass started -> handed to notifier: the `firebell_notification_latency_seconds`
    histogram (a page row is due when its pass starts), quantiles interpolated within
    buckets as Prometheus' histogram_quantile does.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import multiprocessing
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path

import psutil
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, func, select

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from routing.database import sqlalchemy_url  # noqa: E402
from routing.outbox import INCIDENT, NOTIFICATION  # noqa: E402

INSTANCE = re.compile(rb"bench-(\d{7}):9100")
HOST = "127.0.0.1"
KEEP_ALIVE = 3.0  # seconds an idle connection is reused (uvicorn closes them after 5)
WARMUP_BASE = 9_000_000  # warm-up alerts' instance numbers, apart from the measured ones


# ---------------------------------------------------------------- the sink (child process)


def run_sink(port_out: Connection, control: Connection, arrived: Synchronized[int]) -> None:
    """A minimal HTTP/1.1 server: 200 `{}` to every request; on "stop" it sends back the
    (arrival time, body) records. Its own process, so its timestamps never wait for the
    load generator's event loop or GIL."""
    records: list[tuple[float, bytes]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
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


# ---------------------------------------------------------------- the server


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
    cli = [sys.executable, "-m", "bot.cli"]
    if not database_url.startswith("sqlite"):
        subprocess.run([*cli, "db", "upgrade"], env=env, check=True, cwd=workdir, timeout=120)
        if incident_count(database_url):
            raise SystemExit("--database-url must name an empty database (it has incidents)")
    log = (workdir / "server.log").open("wb")
    proc = subprocess.Popen(
        [*cli, "serve", "--port", str(port), "--log-level", "warning"],
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
    accepted: float = 0.0  # when the 202 arrived; 0 if it did not
    status: int = 0


@dataclass
class Load:
    """Keep-alive connections: an idle one is reused, a new one opens when all are busy."""

    port: int
    max_connections: int
    # (reader, writer, when it went idle): uvicorn closes a connection idle for 5 s.
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = field(
        default_factory=list
    )
    opened: int = 0
    errors: Counter[str] = field(default_factory=Counter)

    async def connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        while not self.idle and self.opened >= self.max_connections:
            await asyncio.sleep(0.0005)  # every connection busy: the generator falls behind
        while self.idle:
            reader, writer, since = self.idle.pop()
            if time.monotonic() - since < KEEP_ALIVE:
                return reader, writer
            writer.close()  # the server may be closing it right now: do not race it
            self.opened -= 1
        self.opened += 1
        try:
            return await asyncio.open_connection(HOST, self.port)
        except OSError as exc:
            self.errors[exc.__class__.__name__] += 1
            self.opened -= 1
            return None

    async def post(self, request: bytes, record: Sent) -> None:
        opened = await self.connection()
        if opened is None:
            return
        reader, writer = opened
        try:
            record.sent = time.time()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            record.status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            record.accepted = time.time()
        except (OSError, asyncio.IncompleteReadError) as exc:
            self.errors[exc.__class__.__name__] += 1
            writer.close()
            self.opened -= 1
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


@dataclass
class Run:
    sent: list[Sent]
    load: Load
    peak_rss: int
    measured_from: float  # wall clock after the warm-up: server rows before it are left out
    metrics_before: str  # /metrics after the warm-up, subtracted from the final scrape
    metrics_after: str


async def drive(args: argparse.Namespace, port: int, server_pid: int, sink: Sink) -> Run:
    """Warm up (imports, apprise's plugin, the first connections), then send at the rate
    and wait for the sink to have as many pages as alerts were accepted."""
    load = Load(port, args.connections)
    for k in range(args.warmup):  # one at a time, each waited for; not counted
        await load.post(webhook(WARMUP_BASE + k), Sent(0.0))
        await wait_for_sink(sink, k + 1, 10)
    measured_from = time.time()
    metrics_before = await asyncio.to_thread(scrape, port)
    warm = sink.arrived.value

    count = int(args.rate * args.duration)
    requests = [webhook(i, args.services) for i in range(count)]  # built up front: not on the clock
    peak = [0]
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_rss(server_pid, peak, stop))
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
    await asyncio.sleep(0.3)  # let a late duplicate land before counting
    stop.set()
    await sampler
    metrics_after = await asyncio.to_thread(scrape, port)
    load.close()
    return Run(sent, load, peak[0], measured_from, metrics_before, metrics_after)


# ---------------------------------------------------------------- server-side figures


def scrape(port: int) -> str:
    with socket.create_connection((HOST, port), timeout=5) as s:
        s.sendall(f"GET /metrics HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in head.lower():
        body = dechunk(body)
    return body.decode()


def dechunk(body: bytes) -> bytes:
    out, rest = [], body
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out.append(rest[:size])
        rest = rest[size + 2 :]
    return b"".join(out)


def histogram_buckets(metrics: str, name: str, labels: dict[str, str]) -> dict[float, float]:
    """A Prometheus histogram's cumulative bucket counts by upper bound."""
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(metrics):
        for sample in family.samples:
            wanted = all(sample.labels.get(k) == v for k, v in labels.items())
            if sample.name == name + "_bucket" and wanted:
                buckets[float(sample.labels["le"])] = float(sample.value)
    return buckets


def histogram_quantile(buckets: dict[float, float], q: float) -> float:
    """As PromQL's histogram_quantile: linear within the bucket holding the rank."""
    ordered = sorted(buckets.items())
    total = ordered[-1][1] if ordered else 0.0
    rank, lower, below = q * total, 0.0, 0.0
    for upper, cumulative in ordered:
        if total and cumulative >= rank:
            if upper == float("inf"):
                return lower  # the highest finite bound, as Prometheus does
            share = (rank - below) / (cumulative - below) if cumulative > below else 1.0
            return lower + (upper - lower) * share
        lower, below = upper, cumulative
    return float("nan")


def created_to_pass(database_url: str, since: float) -> tuple[list[float], Counter[str], int]:
    """Per page of an incident created after `since`: seconds from the incident's creation
    to the start of the worker pass that sent it; outbox status counts; retried rows."""
    engine = create_engine(sqlalchemy_url(database_url))
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                NOTIFICATION.c.status,
                NOTIFICATION.c.attempts,
                NOTIFICATION.c.sent_at,
                INCIDENT.c.created_at,
            )
            .join(INCIDENT, INCIDENT.c.id == NOTIFICATION.c.incident_id)
            .where(
                NOTIFICATION.c.kind == "page",
                INCIDENT.c.created_at >= datetime.fromtimestamp(since, UTC),
            )
        ).all()
    engine.dispose()
    delays, statuses, retried = [], Counter[str](), 0
    for status, attempts, sent_at, created_at in rows:
        statuses[status] += 1
        retried += attempts > 1
        if status == "sent":
            delays.append((sent_at - created_at).total_seconds())
    return delays, statuses, retried


# ---------------------------------------------------------------- profile and report


def start_profile(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    """py-spy without pausing the server (--nonblocking), every thread, collapsed stacks."""
    py_spy = Path(sys.executable).with_name("py-spy")
    options = ["--rate", "200", "--threads", "--nonblocking", "--format", "raw", "-o", str(out)]
    return subprocess.Popen(
        [str(py_spy), "record", "--pid", str(pid), "--duration", str(int(seconds)), *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def top_frames(collapsed: Path, limit: int = 12) -> list[str]:
    """Hottest frames in py-spy's collapsed stacks: by thread, self time, and inclusive."""
    leaf: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, n_text = line.rpartition(" ")
        frames, n = stack.split(";"), int(n_text)
        total += n
        threads[frames[0]] += n
        leaf[frames[-1]] += n
        for frame in set(frames[1:]):
            anywhere[frame] += n
    pct = 100 / max(total, 1)
    by_thread = ", ".join(f"{t} {n * pct:.0f}%" for t, n in threads.most_common(6))
    lines = [f"  samples {total}; by thread: {by_thread}"]
    lines += [f"  self  {n * pct:5.1f}%  {f}" for f, n in leaf.most_common(limit)]
    lines += [f"  total {n * pct:5.1f}%  {f}" for f, n in anywhere.most_common(limit)]
    return lines


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def figure(label: str, values: Sequence[float], source: str = "") -> str:
    return (
        f"{label:<42} p50 {percentile(values, 0.5) * 1000:8.1f} ms  "
        f"p99 {percentile(values, 0.99) * 1000:8.1f} ms  "
        f"max {percentile(values, 1.0) * 1000:8.1f} ms  (n={len(values)}){source}"
    )


def arrivals(records: list[tuple[float, bytes]]) -> tuple[dict[int, float], int]:
    """The first arrival time of each instance in the sink's bodies; bodies naming none."""
    first: dict[int, float] = {}
    unmatched = 0
    for arrived, body in records:
        found = {int(m) for m in INSTANCE.findall(body)}
        unmatched += not found
        for i in found:
            first[i] = min(first.get(i, arrived), arrived)
    return first, unmatched


def by_second(sent: list[Sent], first_arrival: dict[int, float]) -> str:
    """accepted -> arrival p99 for each second of sending: flat when the worker keeps up,
    climbing when a backlog builds."""
    if not sent:
        return ""
    buckets: dict[int, list[float]] = {}
    for i, r in enumerate(sent):
        if r.status == 202 and i in first_arrival:
            second = int(r.scheduled - sent[0].scheduled)
            buckets.setdefault(second, []).append(first_arrival[i] - r.accepted)
    return " ".join(f"{percentile(v, 0.99) * 1000:.0f}" for _, v in sorted(buckets.items()))


def write_dump(path: Path, sent: list[Sent], first_arrival: dict[int, float]) -> None:
    with path.open("w") as out:
        out.write("alert,scheduled,sent,accepted,status,arrived\n")
        for i, r in enumerate(sent):
            arrived = first_arrival.get(i, 0.0)
            out.write(
                f"{i},{r.scheduled:.6f},{r.sent:.6f},{r.accepted:.6f},{r.status},{arrived:.6f}\n"
            )


def report(
    args: argparse.Namespace,
    db: str,
    run: Run,
    records: list[tuple[float, bytes]],
    server_side: tuple[list[float], Counter[str], int],
) -> None:
    sent, load = run.sent, run.load
    first_arrival, unmatched = arrivals(records)
    first_arrival = {i: t for i, t in first_arrival.items() if i < WARMUP_BASE}
    accepted = [(i, r) for i, r in enumerate(sent) if r.status == 202]
    found = [(i, r) for i, r in accepted if i in first_arrival]
    statuses = Counter(r.status for r in sent)
    span = max((r.accepted for _, r in accepted), default=0.0) - sent[0].scheduled
    name = "firebell_notification_latency_seconds"
    before = histogram_buckets(run.metrics_before, name, {"kind": "apprise"})
    after = histogram_buckets(run.metrics_after, name, {"kind": "apprise"})
    delta = {le: n - before.get(le, 0.0) for le, n in after.items()}
    observed = int(max(delta.values(), default=0))
    created_pass, outbox, retried = server_side

    print(
        f"paging latency: {args.rate:g} alerts/s for {args.duration:g} s, db={db}, "
        f"services={args.services}, warm-up {args.warmup} alerts"
    )
    print(
        f"alerts sent {len(sent)}, accepted (202) {len(accepted)} "
        f"({len(accepted) / max(span, 1e-9):.0f}/s over {span:.2f} s); "
        f"responses {dict(sorted(statuses.items()))}"
        + (f"; client errors {dict(load.errors)}" if load.errors else "")
    )
    print(f"client connections opened {load.opened}")
    print(
        figure("client: send lag behind schedule", [r.sent - r.scheduled for r in sent if r.sent])
    )
    print(figure("webhook: send -> 202", [r.accepted - r.sent for _, r in accepted]))
    print(figure("server: incident created -> pass start", created_pass, "  [db rows]"))
    print(
        f"{'server: pass start -> handed to notifier':<42} "
        f"p50 {histogram_quantile(delta, 0.5) * 1000:8.1f} ms  "
        f"p99 {histogram_quantile(delta, 0.99) * 1000:8.1f} ms  "
        f"{'':16}(n={observed})  [histogram]"
    )
    print(
        figure(
            "accepted (202) -> arrival at sink", [first_arrival[i] - r.accepted for i, r in found]
        )
    )
    print(figure("send -> arrival at sink", [first_arrival[i] - r.sent for i, r in found]))
    print(f"accepted -> arrival p99 (ms) per second of sending: {by_second(sent, first_arrival)}")
    warm = sum(
        1 for _, body in records if any(int(m) >= WARMUP_BASE for m in INSTANCE.findall(body))
    )
    duplicates = len(records) - unmatched - warm - len(first_arrival)
    print(
        f"missing (accepted, not at sink {args.drain:g} s after the last send): "
        f"{len(accepted) - len(found)}; "
        f"sink requests {len(records) - warm} (duplicates {duplicates}, naming no instance "
        f"{unmatched}); outbox pages {dict(sorted(outbox.items()))}, retried {retried}"
    )
    print(f"server peak RSS {run.peak_rss / 2**20:.1f} MiB")
    if args.dump:
        write_dump(args.dump, sent, first_arrival)
    if args.profile and args.profile.exists():
        print(f"py-spy of the server ({args.profile}):")
        print("\n".join(top_frames(args.profile)))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rate", type=float, default=100, help="alerts (webhooks) per second")
    parser.add_argument("--duration", type=float, default=10, help="seconds of sending")
    parser.add_argument("--warmup", type=int, default=20, help="alerts sent first, not counted")
    parser.add_argument("--drain", type=float, default=30, help="max seconds to await pages")
    parser.add_argument(
        "--services", type=int, default=1, help="spread the alerts over this many services"
    )
    parser.add_argument("--connections", type=int, default=256, help="keep-alive connection cap")
    parser.add_argument("--database-url", help="an empty database; default: SQLite in a temp dir")
    parser.add_argument("--profile", type=Path, help="py-spy the server (10 s) into this file")
    parser.add_argument("--dump", type=Path, help="write per-alert times to this CSV file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        database_url = args.database_url or f"sqlite:///{workdir}/bench.db"
        sink = Sink()
        try:
            port = free_port()
            proc = start_server(database_url, sink.port, port, workdir)
            try:
                profiler = None
                if args.profile:
                    profiler = start_profile(proc.pid, min(10.0, args.duration), args.profile)
                run = asyncio.run(drive(args, port, proc.pid, sink))
                if profiler is not None:
                    profiler.wait(timeout=60)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
        finally:
            records = sink.stop()
        server_side = created_to_pass(database_url, run.measured_from)
    db = "sqlite" if database_url.startswith("sqlite") else database_url.split(":")[0]
    report(args, db, run, records, server_side)


if __name__ == "__main__":
    main()
