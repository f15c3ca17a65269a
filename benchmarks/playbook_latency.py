"""Playbook benchmark (not a test): time from an incident's opening to the first log
excerpt of its `on_open` playbook on the timeline, p50/p99, and the server's CPU per
playbook run, with a loopback Loki.

    .venv/bin/python benchmarks/playbook_latency.py                       # 200 alerts, 20/s, SQLite
    .venv/bin/python benchmarks/playbook_latency.py --alerts 500 --rate 50
    .venv/bin/python benchmarks/playbook_latency.py \\
        --database-url postgresql://postgres@127.0.0.1:5432/fb_playbook_bench \\
        --baseline-database-url postgresql://postgres@127.0.0.1:5432/fb_playbook_base  # empty ones

Set-up: a loopback Loki in a child process (bench_support.Sink answering every request
with one `streams` result, in the query_range wire format); `firebell serve` on a free
port with `grouping.group_by: [instance]` and one `run: on_open` playbook whose single
step reads that Loki. Every webhook carries one new alert with a unique `instance`, so
each opens an incident and starts one run. Webhooks are sent open loop at `--rate`, each
at its scheduled instant; a few warm-up alerts go first and are not counted.

Per incident, from the database once every run has finished:
  * open -> excerpt: the incident's created_at to the timeline `at` of its first
    `playbook_step` entry with an excerpt (both the server's clock);
  * send -> excerpt and 202 -> excerpt: from the client's send and its 202 (wall clock,
    one machine).
CPU per run: the server process's user+system CPU over the measured load divided by the
runs. Then (unless --no-baseline) the same load again on a server without playbooks
(SQLite, or a second empty PostgreSQL database given as --baseline-database-url), so the
difference per alert is what a playbook run costs on top of taking the alert.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import psutil
from bench_support import Sink, free_port, percentile, upgrade_database, wait_until_listening
from sqlalchemy import Engine, create_engine, func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from playbooks.incident_view import ALERT, INCIDENT
from playbooks.run_store import RUN
from routing.storage.database import sqlalchemy_url
from routing.storage.timeline import TIMELINE

# One step: the incident's recent Loki errors (as JSON, which is YAML).
PLAYBOOK = {
    "id": "recent-errors",
    "match": ['service="api"'],
    "run": "on_open",
    "steps": [
        {
            "id": "loki",
            "uses": "logs.loki",
            "with": {
                "connection": "loki",
                "selector": {
                    "app": "{{ incident.labels.service }}",
                    "instance": "{{ incident.labels.instance }}",
                },
                "contains": "error",
                "since": "15m",
                "limit": 100,
            },
        }
    ],
}
LOKI_LINES = 20  # lines in the loopback Loki's answer


def loki_answer() -> bytes:
    now_ns = time.time_ns()
    values = [
        [str(now_ns - i * 10**9), f"error: upstream timed out (req {i})"] for i in range(LOKI_LINES)
    ]
    result = [{"stream": {"app": "api"}, "values": values}]
    answer = {"status": "success", "data": {"resultType": "streams", "result": result}}
    return json.dumps(answer).encode()


def alert_body(instance: str) -> bytes:
    alert = {
        "status": "firing",
        "labels": {"alertname": "HighErrorRate", "service": "api", "severity": "critical",
                   "instance": instance},
        "annotations": {"summary": f"5xx above 5% on {instance}"},
        "startsAt": "2026-12-06T10:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": hashlib.sha256(instance.encode()).hexdigest()[:16],
    }  # fmt: skip
    payload = {"version": "4", "groupKey": "{}:{}", "status": "firing", "receiver": "firebell",
               "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
               "externalURL": "http://alertmanager:9093", "alerts": [alert]}  # fmt: skip
    return json.dumps(payload).encode()


@dataclass
class Sent:
    sent: float
    accepted: float | None = None


def start_server(
    database_url: str, workdir: Path, loki_port: int, playbooks: bool
) -> tuple[subprocess.Popen[bytes], int]:
    folder = workdir / "playbooks"
    folder.mkdir(exist_ok=True)
    if playbooks:
        (folder / "recent-errors.yaml").write_text(json.dumps(PLAYBOOK))
    config = {
        "database_url": database_url,
        "grouping": {"group_by": ["instance"]},
        "playbooks": "./playbooks",
        "connections": {"loki": {"type": "loki", "url": f"http://127.0.0.1:{loki_port}",
                                 "allow_private": True}},
    }  # fmt: skip
    (workdir / "firebell.yaml").write_text(json.dumps(config))
    env = {**os.environ, "FIREBELL_CONFIG": str(workdir / "firebell.yaml")}
    if not database_url.startswith("sqlite"):
        upgrade_database(env, workdir)
    port = free_port()
    command = [sys.executable, "-m", "bot.cli", "serve", "--port", str(port),
               "--log-level", "warning"]  # fmt: skip
    proc = subprocess.Popen(command, env=env, cwd=workdir)
    if not wait_until_listening(proc, port):
        proc.kill()
        raise SystemExit("server did not start")
    return proc, port


async def send_load(port: int, instances: Sequence[str], rate: float) -> dict[str, Sent]:
    """Open loop: each webhook at its instant, never waiting for the earlier answers."""
    sent: dict[str, Sent] = {}
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits) as http:

        async def one(instance: str) -> None:
            body = alert_body(instance)
            sent[instance] = record = Sent(time.time())
            headers = {"Content-Type": "application/json"}
            answer = await http.post("/webhooks/alertmanager", content=body, headers=headers)
            if answer.status_code == 202:
                record.accepted = time.time()

        start = time.monotonic()
        tasks = []
        for i, instance in enumerate(instances):
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            tasks.append(asyncio.create_task(one(instance)))
        await asyncio.gather(*tasks)
    return sent


def finished_runs(engine: Engine, expected: int, timeout: float) -> int:
    """Wait until `expected` runs have ended (or the timeout); how many have."""
    deadline = time.monotonic() + timeout
    done = 0
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            query = select(func.count()).where(RUN.c.status != "running")
            done = int(conn.execute(query).scalar_one())
        if done >= expected:
            break
        time.sleep(0.2)
    return done


def first_excerpts(engine: Engine) -> dict[str, tuple[datetime, datetime]]:
    """instance -> (incident created_at, first timeline entry with an excerpt)."""
    with engine.connect() as conn:
        opened = dict(conn.execute(select(INCIDENT.c.id, INCIDENT.c.created_at)).all())
        instance_of = {
            row.incident_id: row.labels.get("instance")
            for row in conn.execute(select(ALERT.c.incident_id, ALERT.c.labels))
        }
        rows = conn.execute(
            select(TIMELINE.c.incident_id, TIMELINE.c.at, TIMELINE.c.data)
            .where(TIMELINE.c.kind == "playbook_step")
            .order_by(TIMELINE.c.at)
        ).all()
    first: dict[str, tuple[datetime, datetime]] = {}
    for row in rows:
        instance = instance_of.get(row.incident_id)
        if instance and instance not in first and (row.data or {}).get("excerpt"):
            first[instance] = (opened[row.incident_id], row.at)
    return first


def cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


def figure(label: str, seconds: Sequence[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return (
        f"{label:<24} p50 {percentile(ms, 0.5):8.1f} ms  p99 {percentile(ms, 0.99):8.1f} ms  "
        f"max {max(ms, default=float('nan')):8.1f} ms  (n={len(ms)})"
    )


def run_once(args: argparse.Namespace, database_url: str, playbooks: bool) -> tuple[float, int]:
    """One server, warm-up then the measured load; (CPU seconds of the load, alerts)."""
    loki = Sink(loki_answer())
    workdir = Path(tempfile.mkdtemp(prefix="fb-playbook-bench-"))
    url = database_url or f"sqlite:///{workdir}/firebell.db"
    proc, port = start_server(url, workdir, loki.port, playbooks)
    engine = create_engine(sqlalchemy_url(url))
    try:
        warmup = [f"warmup-{i}:9100" for i in range(args.warmup)]
        asyncio.run(send_load(port, warmup, args.rate))
        if playbooks:
            finished_runs(engine, len(warmup), args.timeout)
        server = psutil.Process(proc.pid)
        before = cpu_seconds(server)
        instances = [f"api-{i}:9100" for i in range(args.alerts)]
        sent = asyncio.run(send_load(port, instances, args.rate))
        expected = len(warmup) + args.alerts
        done = finished_runs(engine, expected, args.timeout) if playbooks else 0
        if not playbooks:
            time.sleep(1.0)  # the intake's hooks after the last 202
        cpu = cpu_seconds(server) - before
        if playbooks:
            report(args, sent, first_excerpts(engine), done - len(warmup), cpu, loki)
        return cpu, args.alerts
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        loki.stop()
        engine.dispose()


def report(
    args: argparse.Namespace,
    sent: dict[str, Sent],
    first: dict[str, tuple[datetime, datetime]],
    runs: int,
    cpu: float,
    loki: Sink,
) -> None:
    accepted = {i: s for i, s in sent.items() if s.accepted is not None}
    measured = {i: first[i] for i in accepted if i in first}
    print(f"alerts sent {len(sent)}, accepted {len(accepted)}, runs finished {runs}, "
          f"with an excerpt {len(measured)}, missing {len(accepted) - len(measured)}; "
          f"Loki requests {loki.arrived.value} (incl. {args.warmup} warm-up)")  # fmt: skip
    open_to = [(at - opened).total_seconds() for opened, at in measured.values()]
    send_to = [at.timestamp() - accepted[i].sent for i, (_, at) in measured.items()]
    accepted_to = [
        at.timestamp() - (accepted[i].accepted or 0.0) for i, (_, at) in measured.items()
    ]
    print(figure("open -> first excerpt", open_to))
    print(figure("send -> first excerpt", send_to))
    print(figure("202 -> first excerpt", accepted_to))
    print(f"{'server CPU':<24} {cpu:.2f} s for {args.alerts} alerts + runs: "
          f"{cpu / max(runs, 1) * 1000:.1f} ms per alert with its run")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=200, help="measured alerts (incidents)")
    parser.add_argument("--rate", type=float, default=20.0, help="alerts per second")
    parser.add_argument("--warmup", type=int, default=10, help="alerts sent first, not counted")
    parser.add_argument("--timeout", type=float, default=120.0, help="wait for the runs (s)")
    parser.add_argument("--database-url", default="", help="an empty database (else SQLite)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the run without playbooks")
    parser.add_argument(
        "--baseline-database-url", default="", help="with --database-url: another empty database"
    )
    args = parser.parse_args()
    print(f"playbook latency: {args.alerts} alerts at {args.rate:g}/s, "
          f"database {args.database_url or 'SQLite (temporary)'}")  # fmt: skip
    with_cpu, alerts = run_once(args, args.database_url, playbooks=True)
    if args.no_baseline:
        return
    if args.database_url and not args.baseline_database_url:
        print("(no baseline: give --baseline-database-url, another empty database)")
        return
    without_cpu, _ = run_once(args, args.baseline_database_url, playbooks=False)
    print(f"{'baseline (no playbooks)':<24} {without_cpu:.2f} s: "
          f"{without_cpu / alerts * 1000:.1f} ms per alert; a run adds "
          f"{(with_cpu - without_cpu) / alerts * 1000:.1f} ms CPU")  # fmt: skip


if __name__ == "__main__":
    main()
