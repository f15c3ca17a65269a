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
  * handed to the notifier: the server is started through paging_rig.py, which wraps
    `AppriseNotifier.send` to note the time and the alert's summary line as the worker
    calls it (nothing else in the server changes) and writes them out at shutdown;
  * arrival at the sink: the sink found the alert's `instance` label in a body.
An accepted alert never handed over, or never found at the sink, is counted missing.

This file is the entry point: the options, the run, and the report. paging_rig.py holds
the instrumented server and the load; bench_support.py the free port, the loopback sink
and the percentile, shared with the other benchmarks.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from bench_support import Sink, free_port, percentile
from paging_rig import INSTANCE, WARMUP_BASE, Load, Sent, drive, start_server

# ---------------------------------------------------------------- report


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
