"""Alert-storm benchmark (not a test): N Alertmanager webhook posts drawn from K
fingerprints in G groups, B alerts per post, C concurrent keep-alive clients.

Prints alerts/s accepted, p50/p99 request latency, the server's peak RSS (and RSS after
each half, to show it does not grow with repeats), and checks that every accepted
alert is durably stored (sum of occurrences in the database).

    .venv/bin/python benchmarks/storm.py -N 4000 -K 1000 -G 100 -B 100 -C 8
    .venv/bin/python benchmarks/storm.py -B 1 -N 30000 --database-url postgresql://postgres@127.0.0.1:5432/bench
    .venv/bin/python benchmarks/storm.py -N 3000 --api-reads   # REST read latency meanwhile

Without --url it starts its own `firebell serve` on a free loopback port with a fresh
database (SQLite in a temporary folder unless --database-url is given). The free port and
the wait for the server come from bench_support.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from bench_support import (
    content_length,
    free_port,
    percentile,
    upgrade_database,
    wait_until_listening,
)
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from routing.storage.database import sqlalchemy_url


def make_bodies(n: int, k: int, g: int, b: int, seed: int = 7) -> list[bytes]:
    rnd = random.Random(seed)
    bodies = []
    for _ in range(n):
        alerts = []
        for _ in range(b):
            i = rnd.randrange(k)
            labels = {
                "alertname": f"Storm{i % g}",
                "service": f"svc{i % g}",
                "instance": f"host-{i}:9100",
                "severity": "critical" if i % 10 == 0 else "warning",
            }
            alerts.append(
                {
                    "status": "firing",
                    "labels": labels,
                    "annotations": {"summary": f"storm alert {i} on host-{i}"},
                    "startsAt": "2026-11-24T10:00:00Z",
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus:9090/graph",
                    "fingerprint": f"{i:016x}",
                }
            )
        bodies.append(
            json.dumps(
                {
                    "version": "4",
                    "groupKey": "{}:{}",
                    "truncatedAlerts": 0,
                    "status": "firing",
                    "receiver": "firebell",
                    "groupLabels": {},
                    "commonLabels": {},
                    "commonAnnotations": {},
                    "externalURL": "http://alertmanager:9093",
                    "alerts": alerts,
                }
            ).encode()
        )
    return bodies


async def client(
    host: str, port: int, bodies: list[bytes], latencies: list[float], statuses: dict[int, int]
) -> None:
    """A minimal HTTP/1.1 keep-alive client: the load generator must cost far less CPU
    than the server it measures on the same two cores."""
    reader, writer = await asyncio.open_connection(host, port)
    for body in bodies:
        request = (
            f"POST /webhooks/alertmanager HTTP/1.1\r\nHost: {host}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        started = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - started)
        statuses[status] = statuses.get(status, 0) + 1
    writer.close()


def start_server(database_url: str, port: int, workdir: Path) -> subprocess.Popen[bytes]:
    config = workdir / "firebell.yaml"
    config.write_text(f"database_url: {database_url}\n")
    env = {**os.environ, "FIREBELL_CONFIG": str(config)}
    if not database_url.startswith("sqlite"):
        upgrade_database(env, workdir)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=workdir,
    )
    if wait_until_listening(proc, port):
        return proc
    proc.kill()
    raise SystemExit("server did not start")


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = 0
        self.running = True

    def current(self) -> int:
        return int(self.process.memory_info().rss)

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, self.current())
            time.sleep(0.05)


API_READ = "/api/v1/incidents?status=open&limit=50"


async def api_reader(
    host: str, port: int, latencies: list[float], statuses: dict[int, int], done: asyncio.Event
) -> None:
    """A dashboard polling the REST API during the storm: one read at a time, 20 ms apart."""
    reader, writer = await asyncio.open_connection(host, port)
    while not done.is_set():
        started = time.perf_counter()
        writer.write(f"GET {API_READ} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(content_length(head))
        latencies.append(time.perf_counter() - started)
        status = int(head.split(b" ", 2)[1])
        statuses[status] = statuses.get(status, 0) + 1
        await asyncio.sleep(0.02)
    writer.close()


async def storm(
    host: str,
    port: int,
    bodies: list[bytes],
    c: int,
    reads: tuple[list[float], dict[int, int]] | None = None,
) -> tuple[float, list[float], dict[int, int]]:
    """The storm's clients; with `reads`, an API reader too, for as long as they run."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    shares = [bodies[i::c] for i in range(c)]
    done = asyncio.Event()
    polling = asyncio.create_task(api_reader(host, port, *reads, done)) if reads else None
    started = time.perf_counter()
    await asyncio.gather(*(client(host, port, share, latencies, statuses) for share in shares))
    elapsed = time.perf_counter() - started
    done.set()
    if polling is not None:
        await polling
    return elapsed, latencies, statuses


def stored_occurrences(database_url: str) -> int:
    engine = create_engine(sqlalchemy_url(database_url))
    with engine.connect() as conn:
        total = conn.execute(text("SELECT COALESCE(SUM(occurrences), 0) FROM alert")).scalar_one()
    engine.dispose()
    return int(total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-N", type=int, default=2000, help="webhook posts")
    parser.add_argument("-K", type=int, default=1000, help="distinct fingerprints")
    parser.add_argument("-G", type=int, default=100, help="groups (services x alertnames)")
    parser.add_argument("-B", type=int, default=100, help="alerts per post")
    parser.add_argument("-C", type=int, default=8, help="concurrent keep-alive clients")
    parser.add_argument("--database-url", help="default: SQLite in a temporary folder")
    parser.add_argument("--url", help="an already running server (no RSS or durability check)")
    parser.add_argument(
        "--api-reads",
        action="store_true",
        help=f"poll GET {API_READ} during the storm and report its latency",
    )
    args = parser.parse_args()
    read_latencies: list[float] = []
    read_statuses: dict[int, int] = {}
    reads = (read_latencies, read_statuses) if args.api_reads else None

    bodies = make_bodies(args.N, args.K, args.G, args.B)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        proc = None
        if args.url:
            host, _, port_text = args.url.split("//")[-1].rstrip("/").partition(":")
            port = int(port_text or 80)
        else:
            host, port = "127.0.0.1", free_port()
            database_url = args.database_url or f"sqlite:///{workdir}/bench.db"
            if args.database_url and not args.database_url.startswith("sqlite"):
                engine = create_engine(sqlalchemy_url(args.database_url))
                with engine.begin() as conn:
                    # A clean slate whatever migrations ran before (the server recreates it).
                    conn.execute(text("DROP SCHEMA public CASCADE"))
                    conn.execute(text("CREATE SCHEMA public"))
                engine.dispose()
            proc = start_server(database_url, port, workdir)
        sampler = RssSampler(proc.pid) if proc else None
        if sampler:
            sampler.start()
        cpu_before = sum(sampler.process.cpu_times()[:2]) if sampler else 0.0
        try:
            half = len(bodies) // 2
            elapsed1, lat1, st1 = asyncio.run(storm(host, port, bodies[:half], args.C, reads))
            rss_half = sampler.current() if sampler else 0
            elapsed2, lat2, st2 = asyncio.run(storm(host, port, bodies[half:], args.C, reads))
            rss_end = sampler.current() if sampler else 0
            cpu_used = sum(sampler.process.cpu_times()[:2]) - cpu_before if sampler else 0.0
        finally:
            if sampler:
                sampler.running = False
        latencies = lat1 + lat2
        statuses = {s: st1.get(s, 0) + st2.get(s, 0) for s in {*st1, *st2}}
        accepted_posts = statuses.get(202, 0)
        elapsed = elapsed1 + elapsed2
        print(
            f"storm: N={args.N} K={args.K} G={args.G} B={args.B} C={args.C} "
            f"db={'sqlite' if not args.database_url else args.database_url.split(':')[0]}"
        )
        print(f"responses: {dict(sorted(statuses.items()))}")
        print(
            f"alerts/s accepted: {accepted_posts * args.B / elapsed:,.0f}  "
            f"(requests/s {accepted_posts / elapsed:,.0f}, {elapsed:.2f} s)"
        )
        print(
            f"latency p50: {percentile(latencies, 0.5) * 1000:.2f} ms  "
            f"p99: {percentile(latencies, 0.99) * 1000:.2f} ms"
        )
        if read_latencies:
            print(
                f"API reads during the storm: {len(read_latencies)} "
                f"{dict(sorted(read_statuses.items()))}  "
                f"p50: {percentile(read_latencies, 0.5) * 1000:.2f} ms  "
                f"p99: {percentile(read_latencies, 0.99) * 1000:.2f} ms  "
                f"max: {max(read_latencies) * 1000:.2f} ms"
            )
        if sampler and accepted_posts:
            # Less noisy than alerts/s when the machine is shared: CPU, not wall time.
            per_alert = cpu_used / (accepted_posts * args.B) * 1e6
            print(f"server CPU: {per_alert:.1f} µs per alert ({cpu_used / elapsed:.0%} of a core)")
        if sampler:
            print(
                f"server RSS peak: {sampler.peak / 2**20:.1f} MiB  "
                f"(after first half {rss_half / 2**20:.1f} MiB, end {rss_end / 2**20:.1f} MiB)"
            )
        if proc:
            stored = stored_occurrences(database_url)
            verdict = "OK" if stored == accepted_posts * args.B else "MISMATCH"
            print(
                f"durably stored occurrences: {stored:,} of {accepted_posts * args.B:,} "
                f"accepted: {verdict}"
            )
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
