"""The floor under firebell's paging figures (not a test): what its stack itself costs on
this machine, next to Prometheus Alertmanager in the same run.

firebell's paging latency and CPU per alert cannot go below what any durable pager built
on the same stack must do: take the alert over HTTP (FastAPI under uvicorn, `firebell
serve`'s options), commit it once to SQLite (WAL, synchronous=NORMAL, BEGIN IMMEDIATE, one
writer thread) and send one page over HTTP (one keep-alive httpx.AsyncClient).
benchmarks/floor_server.py is exactly that and nothing more; `nodb` drops the commit too.
A paging target below the `full` figures is below what the stack can do, whatever
firebell's own code does; the Alertmanager column says where a Go pager without a
commit per alert stands on the same machine and load.

The load, the sink and every figure come from compare_scenarios.paging, as in
benchmarks/alertmanager_compare.py (send->sink p50/p99 from the moment the request is
written, server CPU per alert via psutil until the last page arrived, missing and
duplicate pages among the accepted alerts).

    .venv/bin/python benchmarks/stack_floor.py --quick            # 5 s of (a)
    .venv/bin/python benchmarks/stack_floor.py                    # (a) 100/s for 20 s
    .venv/bin/python benchmarks/stack_floor.py --rate-c 1000      # and (c), 10 s
    .venv/bin/python benchmarks/stack_floor.py --setups full,alertmanager

Scenarios (each on a fresh server and sink):
  a  --rate new alerts/s (100) for --duration s (20), one per request, one contact
  c  --rate-c new alerts/s for --duration-c s (10), one per request, 100 contacts (only
     when --rate-c is given)

Exit status 1 when an accepted alert was not paged, or a floor server paged one twice.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from alertmanager_compare import Scenario, run_all
from bench_support import free_port, wait_until_listening
from compare_scenarios import paging
from compare_servers import Server, alertmanager_version, ensure_alertmanager

HERE = Path(__file__).resolve().parent
SETUPS = ("full", "nodb", "alertmanager")


def start_floor(mode: str, sink_port: int, workdir: Path) -> Server:
    """floor_server.py as its own process, shaped like start_firebell's Server (firebell's
    webhook request, 202 accepted) so compare_scenarios measures it the same way."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = workdir / f"floor-{mode}.log"
    command = [
        sys.executable,
        str(HERE / "floor_server.py"),
        "--port",
        str(port),
        "--sink-port",
        str(sink_port),
        "--mode",
        mode,
        "--db",
        str(workdir / "floor.db"),
    ]
    proc = subprocess.Popen(command, cwd=workdir, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    server = Server(f"floor {mode}", port, [proc], workdir, False, [log])
    if not wait_until_listening(proc, port, timeout=60):
        server.stop()
        raise SystemExit(f"floor {mode} did not start:\n" + server.log_tail())
    return server


def scenarios(args: argparse.Namespace) -> dict[str, tuple[str, int, Scenario]]:
    """Letter -> (title, contacts, the run); the letters are alertmanager_compare's."""
    known: dict[str, tuple[str, int, Scenario]] = {
        "a": (
            f"(a) new alert -> sink, {args.rate:g}/s for {args.duration:g} s",
            1,
            lambda s, k, f: paging(s, k, f, args.rate, args.duration, 1),
        )
    }
    if args.rate_c:
        known["c"] = (
            f"(c) {args.rate_c:g} new alerts/s for {args.duration_c:g} s, 100 contacts",
            100,
            lambda s, k, f: paging(s, k, f, args.rate_c, args.duration_c, 100),
        )
    return known


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--setups", default=",".join(SETUPS), help="full, nodb, alertmanager")
    parser.add_argument("--quick", action="store_true", help="short runs: (a) 5 s, (c) 3 s")
    parser.add_argument("--rate", type=float, default=100, help="(a) alerts/s")
    parser.add_argument("--duration", type=float, default=20, help="(a) seconds")
    parser.add_argument("--rate-c", type=float, default=0, help="(c) alerts/s; 0: no (c)")
    parser.add_argument("--duration-c", type=float, default=10, help="(c) seconds")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.duration_c = 5.0, 3.0
    setups = [s.strip() for s in args.setups.split(",") if s.strip()]
    if bad := [s for s in setups if s not in SETUPS]:
        parser.error(f"unknown setup: {', '.join(bad)}")
    known = scenarios(args)

    alertmanager = ensure_alertmanager() if "alertmanager" in setups else ""
    am = alertmanager_version(alertmanager) if alertmanager else "-"
    print(f"the stack's floor (FastAPI/uvicorn, SQLite, httpx) against {am}")

    def start_setup(setup: str, _contacts: int, sink_port: int, workdir: Path) -> Server:
        return start_floor(setup, sink_port, workdir)

    return run_all(known, list(known), setups, alertmanager, start_setup)


if __name__ == "__main__":
    sys.exit(main())
