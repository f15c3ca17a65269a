"""Incident-list benchmark (not a test): server time of `GET /` with 500 open incidents.

    .venv/bin/python benchmarks/web_list.py                    # SQLite in a temp dir
    .venv/bin/python benchmarks/web_list.py \\
        --database-url postgresql://postgres@127.0.0.1:5432/fb_web_bench   # an empty database

Set-up: `firebell db upgrade` on an empty database, then rows written straight into it:
500 open incidents (every tenth resolved one more on top, so the open filter has history
to skip), each with 3 alerts, an active escalation with a due time and a page to a user,
one in four acknowledged. Then a real `firebell serve` on a free loopback port, a login
with a personal token (POST /login, the session cookie), 5 warm-up GETs and 50 measured
GETs of `/` (all 500 rows rendered: the default limit is 500).

What is measured: the page handler sets `Server-Timing: db;dur=…, render;dur=…,
total;dur=…, cpu;dur=…`: wall time from time.perf_counter() around the query (two round
trips) and the template render ("total" is the server time; it leaves out only the auth
dependency, the socket and uvicorn's framing), and the handler thread's CPU time
(time.thread_time(), which a loaded machine's run queue does not inflate, but which
leaves out waiting on PostgreSQL). The client's wall time over loopback (httpx,
keep-alive) is printed beside them as the upper bound. p50/p99 are nearest rank
(bench_support.percentile). The load average is printed: other work on the machine
inflates every wall-clock figure.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from bench_support import free_port, percentile, upgrade_database, wait_until_listening
from sqlalchemy import insert

from routing.response.incident_overview import ESCALATION, INCIDENT, NOTIFICATION
from routing.response.incidents import ALERT
from routing.storage.database import make_engine

TOKEN = "bench-token-5c1e9a"  # a throwaway personal token for the benchmark user
CONFIG = """\
database_url: {database_url}
api_tokens:
  - {{token: "${{WEB_BENCH_TOKEN}}", user: alice}}
users:
  - {{name: alice, time_zone: Europe/Berlin, contacts: ["json://127.0.0.1:{closed}/page"]}}
  - {{name: bob}}
escalation_policies:
  - {{name: default, steps: [{{notify: ["user:alice"], wait: 10m}}]}}
route:
  receiver: {{escalation: default}}
"""
SEVERITIES = (("critical", 3), ("error", 2), ("warning", 1), ("info", 0))
TIMING = re.compile(r"(\w+);dur=([0-9.]+)")


def seed(database_url: str, open_count: int, now: datetime) -> None:
    """Open incidents with alerts, escalations and pages; some acked, some resolved."""
    engine = make_engine(database_url)
    incidents, alerts, escalations, pages = [], [], [], []
    total = open_count + open_count // 10
    for n in range(1, total + 1):
        severity, rank = SEVERITIES[n % 4]
        created = now - timedelta(minutes=n * 3)
        resolved = n > open_count
        acked = not resolved and n % 4 == 0
        incidents.append(
            {
                "id": n,
                "title": f"High error rate on api-{n} ({severity})",
                "status": "resolved" if resolved else "acknowledged" if acked else "triggered",
                "severity": severity,
                "severity_rank": rank,
                "service": f"svc-{n % 7}",
                "group_key": f"bench-{n}",
                "group_labels": {"instance": f"api-{n}"},
                "created_at": created,
                "updated_at": created,
                "last_alert_at": created,
                "alert_count": 3,
                "open_alert_count": 0 if resolved else 3,
                "acknowledged_at": created + timedelta(minutes=1) if acked else None,
                "acknowledged_by": "bob" if acked else None,
                "resolved_at": created + timedelta(minutes=2) if resolved else None,
                "resolved_by": "bob" if resolved else None,
            }
        )
        for a in range(3):
            alerts.append(
                {
                    "fingerprint": f"{n:06d}{a}",
                    "source": "alertmanager",
                    "status": "resolved" if resolved else "firing",
                    "severity": severity,
                    "service": f"svc-{n % 7}",
                    "title": f"alert {a} of {n}",
                    "labels": {"instance": f"api-{n}", "pod": str(a)},
                    "annotations": {},
                    "first_seen": created,
                    "last_seen": created,
                    "incident_id": n,
                    "fingerprint_fields": {},
                }
            )
        escalations.append(
            {
                "id": n,
                "incident_id": n,
                "policy": "default",
                "state": "active" if not (resolved or acked) else "stopped",
                "started_at": created,
                "due_at": now + timedelta(minutes=n % 30),
                "updated_at": created,
            }
        )
        pages.append(
            {
                "incident_id": n,
                "escalation_id": n,
                "dedup_key": f"bench-page-{n}",
                "kind": "page",
                "address": "json://127.0.0.1:9/never",
                "recipient": "alice",
                "via": "user:alice",
                "status": "sent",
                "created_at": created,
                "first_due_at": created,
                "next_attempt_at": created,
            }
        )
    with engine.begin() as conn:
        for table, rows in (
            (INCIDENT, incidents),
            (ALERT, alerts),
            (ESCALATION, escalations),
            (NOTIFICATION, pages),
        ):
            conn.execute(insert(table), rows)
    engine.dispose()


def measure(
    base_url: str, requests: int, warmup: int
) -> tuple[dict[str, list[float]], list[float], int]:
    """(server ms per Server-Timing part, client wall ms, rows in the last page)."""
    server: dict[str, list[float]] = {"db": [], "render": [], "total": [], "cpu": []}
    wall = []
    rows = 0
    with httpx.Client(base_url=base_url, timeout=30) as http:
        login = http.post(
            "/login",
            data={"token": TOKEN},
            headers={"Origin": base_url, "Sec-Fetch-Site": "same-origin"},
        )
        if login.status_code not in (200, 303) or "firebell_session" not in http.cookies:
            raise SystemExit(f"login failed: {login.status_code} {login.text[:300]}")
        for i in range(warmup + requests):
            started = time.perf_counter()
            page = http.get("/")
            elapsed = (time.perf_counter() - started) * 1000
            if page.status_code != 200:
                raise SystemExit(f"GET / answered {page.status_code}: {page.text[:300]}")
            timings = dict(TIMING.findall(page.headers.get("server-timing", "")))
            if "total" not in timings:
                raise SystemExit("no Server-Timing total in the answer")
            if i >= warmup:
                for part, values in server.items():
                    values.append(float(timings[part]))
                wall.append(elapsed)
            rows = page.text.count("data-incident-id=")
    return server, wall, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--database-url", help="an empty database; default: SQLite in a temp dir")
    parser.add_argument("--incidents", type=int, default=500, help="open incidents")
    parser.add_argument("--requests", type=int, default=50, help="measured GETs")
    parser.add_argument("--warmup", type=int, default=5, help="GETs first, not counted")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        database_url = args.database_url or f"sqlite:///{workdir}/bench.db"
        config = workdir / "firebell.yaml"
        config.write_text(CONFIG.format(database_url=database_url, closed=free_port()))
        env = {**os.environ, "FIREBELL_CONFIG": str(config), "WEB_BENCH_TOKEN": TOKEN}
        upgrade_database(env, workdir)
        seed(database_url, args.incidents, datetime.now(UTC))
        port = free_port()
        log = (workdir / "serve.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--port", str(port), "--no-workers"],
            env=env,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            if not wait_until_listening(proc, port):
                raise SystemExit((workdir / "serve.log").read_text(errors="replace"))
            server, wall, rows = measure(f"http://127.0.0.1:{port}", args.requests, args.warmup)
        finally:
            proc.terminate()
            proc.wait(timeout=15)
    kind = "PostgreSQL" if database_url.startswith("postgres") else "SQLite"
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"GET / on {kind}: {rows} rows rendered, {args.requests} requests; load {load}")
    shown = [(f"server {part}", values) for part, values in server.items()]
    for name, values in [*shown, ("client wall", wall)]:
        print(
            f"  {name:14s} p50 {percentile(values, 0.5):6.1f} ms  "
            f"p99 {percentile(values, 0.99):6.1f} ms  mean {statistics.fmean(values):6.1f} ms"
        )


if __name__ == "__main__":
    main()
