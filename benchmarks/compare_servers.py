"""The two servers of benchmarks/alertmanager_compare.py (helper, not a test): Prometheus
Alertmanager (installed from Debian when missing) and firebell, one process or split,
both configured to notify the same loopback sink, and the alerts both are sent.

Each alert has a unique `instance` label (bench-NNNNNNN:9100) and summary, and its own
`service`, so with `group_by: [alertname, service]` it is its own Alertmanager group and
its own firebell incident; the `contact` label (c0..c99) picks the route, the receiver
and the contact (`/page/c<k>` on the sink).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from bench_support import HOST, free_port, upgrade_database, wait_until_listening

REPO = Path(__file__).resolve().parents[1]
ALERTMANAGER = "prometheus-alertmanager"  # the Debian package's binary
STARTS_AT = "2026-05-04T09:58:00Z"


# ---------------------------------------------------------------- the alerts


def alert(i: int, contact: int = 0, *, alertname: str = "PagingBench") -> dict[str, Any]:
    """Alert number `i`: its own instance, summary and service (so its own group)."""
    return {
        "labels": {
            "alertname": alertname,
            "instance": f"bench-{i:07d}:9100",
            "service": f"bench-{i}",
            "severity": "critical",
            "contact": f"c{contact}",
        },
        "annotations": {"summary": f"benchmark alert {i}"},
        "startsAt": STARTS_AT,
        "generatorURL": "http://prometheus:9090/graph",
    }


def storm_alerts(posts: int, k: int, g: int, b: int, seed: int = 7) -> list[list[dict[str, Any]]]:
    """storm.py's alerts (K fingerprints in G groups, B per post), routed to contact c0."""
    from storm import make_bodies

    out = []
    for body in make_bodies(posts, k, g, b, seed):
        alerts = json.loads(body)["alerts"]
        out.append(
            [
                {
                    "labels": {**a["labels"], "contact": "c0"},
                    "annotations": a["annotations"],
                    "startsAt": a["startsAt"],
                    "generatorURL": a["generatorURL"],
                }
                for a in alerts
            ]
        )
    return out


def _http(path: str, payload: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload


def alertmanager_request(alerts: Sequence[dict[str, Any]]) -> bytes:
    """Alertmanager's own API: POST /api/v2/alerts with a list of alerts."""
    return _http("/api/v2/alerts", json.dumps(list(alerts)).encode())


def firebell_request(alerts: Sequence[dict[str, Any]]) -> bytes:
    """firebell's Alertmanager webhook: what an Alertmanager sends it (version 4)."""
    body = {
        "version": "4",
        "groupKey": "{}:{}",
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "firebell",
        "groupLabels": {},
        "commonLabels": alerts[0]["labels"] if len(alerts) == 1 else {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": [{**a, "status": "firing", "endsAt": "0001-01-01T00:00:00Z"} for a in alerts],
    }
    return _http("/webhooks/alertmanager", json.dumps(body).encode())


# ---------------------------------------------------------------- the servers


@dataclass
class Server:
    """A started system under test: `name`, its HTTP port, its processes, and how to
    encode a request of alerts for it."""

    name: str
    port: int
    procs: list[subprocess.Popen[bytes]]
    workdir: Path
    alertmanager: bool
    logs: list[Path] = field(default_factory=list)

    def request(self, alerts: Sequence[dict[str, Any]]) -> bytes:
        return alertmanager_request(alerts) if self.alertmanager else firebell_request(alerts)

    @property
    def accepted_status(self) -> int:
        return 200 if self.alertmanager else 202

    def processes(self) -> list[psutil.Process]:
        return [psutil.Process(p.pid) for p in self.procs]

    def cpu(self) -> float:
        """User + system CPU seconds of all the server's processes so far."""
        return sum(sum(p.cpu_times()[:2]) for p in self.processes())

    def rss(self) -> int:
        return sum(int(p.memory_info().rss) for p in self.processes())

    def stop(self) -> None:
        for proc in reversed(self.procs):  # the worker first, then HTTP
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def log_tail(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-2000:] for p in self.logs if p.exists())


def ensure_alertmanager() -> str:
    """The Alertmanager binary; installs Debian's package (as root) when it is missing."""
    found = shutil.which(ALERTMANAGER)
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit(f"{ALERTMANAGER} is missing; install it (apt-get) or run as root")
    install = ["apt-get", "install", "-y", "--no-install-recommends", ALERTMANAGER]
    if subprocess.run(install, check=False).returncode != 0:
        subprocess.run(["apt-get", "update"], check=True)
        subprocess.run(install, check=True)
    found = shutil.which(ALERTMANAGER)
    if not found:
        raise SystemExit(f"{ALERTMANAGER} not found after installing it")
    return found


def alertmanager_version(binary: str) -> str:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    return (out.stdout or out.stderr).splitlines()[0] if (out.stdout or out.stderr) else "?"


def alertmanager_config(sink_port: int, contacts: int) -> str:
    def receiver(k: int) -> str:
        return (
            f"  - name: c{k}\n    webhook_configs:\n"
            f"      - {{url: 'http://{HOST}:{sink_port}/page/c{k}', send_resolved: false}}\n"
        )

    routes = "".join(
        f"    - {{matchers: ['contact=\"c{k}\"'], receiver: c{k}}}\n" for k in range(1, contacts)
    )
    return (
        "route:\n  receiver: c0\n  group_by: [alertname, service]\n  group_wait: 0s\n"
        "  group_interval: 10ms\n  repeat_interval: 4h\n"
        + (f"  routes:\n{routes}" if routes else "")
        + "receivers:\n"
        + "".join(receiver(k) for k in range(contacts))
    )


def start_alertmanager(binary: str, sink_port: int, contacts: int, workdir: Path) -> Server:
    """Loopback only, its own storage dir, no cluster (an empty listen address)."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "alertmanager.yml"
    config.write_text(alertmanager_config(sink_port, contacts))
    port = free_port()
    log = workdir / "alertmanager.log"
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={workdir / 'data'}",
            f"--web.listen-address={HOST}:{port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        cwd=workdir,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    server = Server("alertmanager", port, [proc], workdir, True, [log])
    if not wait_until_listening(proc, port):
        server.stop()
        raise SystemExit("Alertmanager did not start:\n" + server.log_tail())
    return server


def firebell_config(database_url: str, sink_port: int, contacts: int, bundle_off: bool) -> str:
    users = "".join(
        f'  - {{name: u{k}, contacts: ["json://{HOST}:{sink_port}/page/c{k}"]}}\n'
        for k in range(contacts)
    )
    policies = "".join(
        f'  - {{name: p{k}, steps: [{{notify: ["user:u{k}"], wait: 1h}}]}}\n'
        for k in range(contacts)
    )
    routes = "".join(
        f"    - {{matchers: ['contact=\"c{k}\"'], receiver: {{escalation: p{k}}}}}\n"
        for k in range(1, contacts)
    )
    return (
        f'database_url: "{database_url}"\n'
        + ("paging: {bundle: off}\n" if bundle_off else "")
        + f"users:\n{users}escalation_policies:\n{policies}"
        + "grouping:\n  group_by: [alertname, service]\n  group_wait: 0s\n"
        + "route:\n  group_by: [alertname, service]\n  group_wait: 0s\n"
        + "  receiver: {escalation: p0}\n"
        + (f"  routes:\n{routes}" if routes else "")
    )


def bundle_key_accepted(workdir: Path) -> bool:
    """Whether this tree's config has `paging: {bundle: off}` (bundling may not exist yet)."""
    workdir.mkdir(parents=True, exist_ok=True)
    probe = workdir / "probe.yaml"
    probe.write_text(firebell_config("sqlite:///probe.db", 9, 1, bundle_off=True))
    checked = subprocess.run(
        [sys.executable, "-m", "bot.cli", "check-config", str(probe)],
        cwd=REPO,
        capture_output=True,
        check=False,
        timeout=120,
    )
    return checked.returncode == 0


def _reset_postgresql(database_url: str) -> None:
    from sqlalchemy import create_engine, text

    sys.path.insert(0, str(REPO))
    from routing.storage.database import sqlalchemy_url

    engine = create_engine(sqlalchemy_url(database_url))
    with engine.begin() as conn:  # a clean slate per run
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def start_firebell(
    split: bool,
    database_url: str | None,
    sink_port: int,
    contacts: int,
    workdir: Path,
    bundle_off: bool,
) -> Server:
    """`firebell serve`, or `serve --no-workers` + `firebell worker`, on a fresh database."""
    workdir.mkdir(parents=True, exist_ok=True)
    url = database_url or f"sqlite:///{workdir}/bench.db"
    config = workdir / "firebell.yaml"
    config.write_text(firebell_config(url, sink_port, contacts, bundle_off))
    env = {**os.environ, "FIREBELL_CONFIG": str(config), "PYTHONPATH": str(REPO)}
    if database_url and not database_url.startswith("sqlite"):
        _reset_postgresql(database_url)
        upgrade_database(env, workdir)
    port = free_port()
    cli = [sys.executable, "-m", "bot.cli"]
    serve = ["serve", "--port", str(port), "--log-level", "warning"]
    name = "firebell split" if split else "firebell serve"
    server = Server(name, port, [], workdir, False)
    commands = [[*cli, *serve, "--no-workers"], [*cli, "worker", "--log-level", "warning"]]
    for n, command in enumerate(commands if split else [[*cli, *serve]]):
        log = workdir / f"firebell-{n}.log"
        server.logs.append(log)
        proc = subprocess.Popen(
            command, env=env, cwd=workdir, stdout=log.open("wb"), stderr=subprocess.STDOUT
        )
        server.procs.append(proc)
        if n == 0 and not wait_until_listening(proc, port, timeout=60):
            server.stop()
            raise SystemExit(f"{name} did not start:\n" + server.log_tail())
    if split:
        time.sleep(1.0)  # the worker's start-up (imports, its lock) before any load
        if server.procs[1].poll() is not None:
            server.stop()
            raise SystemExit("firebell worker did not start:\n" + server.log_tail())
    return server
