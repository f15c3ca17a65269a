"""Syslog flood benchmark (not a test): UDP syslog lines, each a new Nginx error (its own
fingerprint), sent as fast as one sender process can (or at --rate lines/s) for S
seconds, while one client posts generic webhooks at W per second.

Prints the server's RSS before the flood, at its peak and at the end (memory must stay
flat: the intake's queue is bounded), the webhooks' status counts and p50/p99/max latency
(syslog must never starve webhooks), how many lines the server stored and how many it
counted dropped (`firebell_dropped_total`).

    .venv/bin/python benchmarks/syslog_flood.py -S 20 -W 20
    .venv/bin/python benchmarks/syslog_flood.py -S 20 --database-url postgresql://postgres@127.0.0.1:5432/bench

Without --database-url it uses SQLite in a temporary folder. --intake passes an `intake:`
section through to the config (e.g. --intake '{syslog_queue_size: 200}'); without it the
defaults apply (and the config stays valid for a server from before that section).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import suppress
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path

import httpx
import psutil
from bench_support import HOST, free_port, percentile, upgrade_database, wait_until_listening
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from routing.storage.database import sqlalchemy_url

LINE = (
    "<187>Mar  1 09:05:07 web1 nginx: 2026/03/01 09:05:07 [error] 41#41: *{n} connect() "
    "failed (111: Connection refused) while connecting to upstream, client: 192.0.2.4, "
    'server: site{n}.example, request: "GET / HTTP/1.1", upstream: "http://10.0.{a}.{b}:9000/", '
    'host: "site{n}.example"'
)


def flood(port: int, seconds: float, rate: float, distinct: int, sent: Synchronized[int]) -> None:
    """The sender process: every line a new server name (a new fingerprint), or cycling
    through `distinct` of them."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    deadline = time.monotonic() + seconds
    started = time.monotonic()
    n = 0
    while time.monotonic() < deadline:
        for _ in range(100):
            k = n % distinct if distinct else n
            line = LINE.format(n=k, a=k // 250 % 250, b=k % 250).encode()
            with suppress(OSError):  # the kernel's buffer is full: the flood goes on
                sock.sendto(line, (HOST, port))
            n += 1
        if rate:
            ahead = n / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
    sent.value = n


async def post_webhooks(
    base_url: str,
    seconds: float,
    per_second: float,
    latencies: list[float],
    statuses: dict[int | str, int],
) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        started = time.monotonic()
        tasks = []
        i = 0
        while time.monotonic() - started < seconds:
            tasks.append(asyncio.create_task(_post(http, i, latencies, statuses)))
            i += 1
            await asyncio.sleep(max(0.0, started + i / per_second - time.monotonic()))
        await asyncio.gather(*tasks)


async def _post(
    http: httpx.AsyncClient, i: int, latencies: list[float], statuses: dict[int | str, int]
) -> None:
    body = {"title": f"webhook {i % 50}", "severity": "warning", "service": "api"}
    started = time.perf_counter()
    status: int | str
    try:
        status = (await http.post("/webhooks/generic", json=body)).status_code
    except httpx.HTTPError as exc:
        status = exc.__class__.__name__  # no answer at all
    latencies.append(time.perf_counter() - started)
    statuses[status] = statuses.get(status, 0) + 1


def start_server(
    database_url: str, port: int, syslog_port: int, intake: str | None, workdir: Path
) -> subprocess.Popen[bytes]:
    config = workdir / "firebell.yaml"
    listen = f"{HOST}:{syslog_port}"
    syslog = f'{{nginx: {{syslog: {{listen: "{listen}"}}}}}}'
    text_ = f"database_url: {database_url}\nsources: {syslog}\n"
    if intake:
        text_ += f"intake: {intake}\n"
    config.write_text(text_)
    env = {**os.environ, "FIREBELL_CONFIG": str(config)}
    if not database_url.startswith("sqlite"):
        upgrade_database(env, workdir)
    command = [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)]
    proc = subprocess.Popen([*command, "--log-level", "warning"], env=env, cwd=workdir)
    if wait_until_listening(proc, port):
        return proc
    proc.kill()
    raise SystemExit("server did not start")


def metric(metrics_text: str, name: str) -> float:
    total = 0.0
    for match in re.finditer(
        rf"^{re.escape(name)}(?:{{[^}}]*}})? ([0-9.e+]+)$", metrics_text, re.M
    ):
        total += float(match.group(1))
    return total


def stored_lines(database_url: str) -> int:
    engine = create_engine(sqlalchemy_url(database_url))
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM inbox WHERE content_type = 'syslog'"))
        total = int(count.scalar_one())
    engine.dispose()
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-S", type=float, default=20, help="seconds of flood")
    parser.add_argument("-W", type=float, default=20, help="webhooks per second meanwhile")
    parser.add_argument("--rate", type=float, default=0, help="lines/s (0: as fast as possible)")
    parser.add_argument("--distinct", type=int, default=0, help="cycle N lines (0: all new)")
    parser.add_argument("--database-url", help="default: SQLite in a temporary folder")
    parser.add_argument("--intake", help="an `intake:` section for the config, as YAML")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        database_url = args.database_url or f"sqlite:///{workdir}/bench.db"
        if args.database_url and not args.database_url.startswith("sqlite"):
            engine = create_engine(sqlalchemy_url(args.database_url))
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
            engine.dispose()
        port, syslog_port = free_port(), free_port()
        proc = start_server(database_url, port, syslog_port, args.intake, workdir)
        server = psutil.Process(proc.pid)
        base_url = f"http://{HOST}:{port}"
        try:
            time.sleep(1)  # settle: imports done, first requests served
            rss_before = server.memory_info().rss
            peak = rss_before
            ctx = multiprocessing.get_context("fork")
            sent: Synchronized[int] = ctx.Value("q", 0)
            sender = ctx.Process(
                target=flood, args=(syslog_port, args.S, args.rate, args.distinct, sent)
            )
            latencies: list[float] = []
            statuses: dict[int | str, int] = {}
            sender.start()

            rss_half = 0

            async def measure() -> None:
                nonlocal peak, rss_half
                posting = asyncio.create_task(
                    post_webhooks(base_url, args.S, args.W, latencies, statuses)
                )
                started = time.monotonic()
                while not posting.done():
                    peak = max(peak, server.memory_info().rss)
                    if not rss_half and time.monotonic() - started >= args.S / 2:
                        rss_half = server.memory_info().rss
                    await asyncio.sleep(0.1)
                await posting

            asyncio.run(measure())
            sender.join()
            time.sleep(2)  # let the queue drain
            rss_end = server.memory_info().rss
            metrics_text = httpx.get(base_url + "/metrics", timeout=30).text
            stored = stored_lines(database_url)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        db = "sqlite" if not args.database_url else args.database_url.split(":")[0]
        mib = 2**20
        print(
            f"syslog flood: S={args.S:g}s W={args.W:g}/s rate={args.rate or 'max'} "
            f"distinct={args.distinct or 'all'} db={db}"
        )
        print(f"lines sent: {sent.value:,} ({sent.value / args.S:,.0f}/s)")
        print(
            f"lines stored: {stored:,}  dropped (firebell_dropped_total): "
            f"{metric(metrics_text, 'firebell_dropped_total'):,.0f}"
        )
        print(f"webhooks: {dict(sorted(statuses.items(), key=str))}")
        print(
            f"webhook latency p50: {percentile(latencies, 0.5) * 1000:.1f} ms  "
            f"p99: {percentile(latencies, 0.99) * 1000:.1f} ms  max: {max(latencies) * 1000:.1f} ms"
        )
        print(
            f"server RSS before: {rss_before / mib:.1f} MiB  half-way: {rss_half / mib:.1f} MiB  "
            f"peak: {peak / mib:.1f} MiB  end: {rss_end / mib:.1f} MiB  "
            f"(growth to peak {(peak - rss_before) / mib:+.1f} MiB)"
        )


if __name__ == "__main__":
    main()
