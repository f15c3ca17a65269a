"""firebell against Prometheus Alertmanager, side by side (not a test): the same alerts to
both, notifications to the same loopback sink, absolute figures and firebell/Alertmanager.

    .venv/bin/python benchmarks/alertmanager_compare.py                  # everything, SQLite
    .venv/bin/python benchmarks/alertmanager_compare.py --quick          # short runs
    .venv/bin/python benchmarks/alertmanager_compare.py --scenarios a,c --setups serve
    .venv/bin/python benchmarks/alertmanager_compare.py \\
        --database-url postgresql://postgres@127.0.0.1:5432/bench       # its tables are reset

Alertmanager is Debian's `prometheus-alertmanager` (installed with apt-get, as root, when
missing), on a free loopback port with its own storage dir and no cluster
(`--cluster.listen-address=`), `group_by: [alertname, service]`, `group_wait: 0s`,
`group_interval: 10ms`, one webhook receiver per contact pointing at the sink. firebell
runs as one process (`firebell serve`) and split (`serve --no-workers` + `firebell
worker`), with the same grouping and a user per contact whose contact is
`json://127.0.0.1:<sink>/page/c<k>` (and `paging: {bundle: off}` when the tree has it).
Alertmanager gets its own API (POST /api/v2/alerts), firebell its Alertmanager webhook.

Scenarios (each on a fresh server and sink):
  a  new alert -> at sink: --rate-a alerts/s (100) for --duration-a s (20), one per
     request, latency from the moment the request is sent; server CPU per alert
  b  a new critical alert every 200 ms while 8 clients send storm repeats (100 alerts per
     request, 1,000 fingerprints) as fast as the server takes: probe latency, storm rate
  c  --rate-c new incidents/s (1,000) for --duration-c s (10), each paging one of 100
     contacts: accepted/s, pages once each, p99 at the sink, CPU per paged incident
  d  idle CPU over --duration-d s (10)
  e  storm.py's ingest: B=100 (--posts-e100 posts) and B=1 (--posts-e1 posts), 8 clients

Exit status 1 when any accepted alert was not paged, or firebell paged one twice
(Alertmanager may resend a group by design; its repeats are shown, not failed).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import tempfile
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from bench_support import Sink
from compare_scenarios import Finish, Outcome, idle, ingest, paging, probe_storm
from compare_servers import (
    Server,
    alertmanager_version,
    bundle_key_accepted,
    ensure_alertmanager,
    start_alertmanager,
    start_firebell,
)

SETUPS = ("serve", "split", "alertmanager")
Scenario = Callable[[Server, Sink, Finish], Coroutine[Any, Any, Outcome]]


def scenarios(args: argparse.Namespace) -> dict[str, tuple[str, int, Scenario]]:
    """Letter -> (title, contacts configured, the run)."""
    return {
        "a": (
            f"(a) new alert -> sink, {args.rate_a:g}/s for {args.duration_a:g} s",
            1,
            lambda s, k, f: paging(s, k, f, args.rate_a, args.duration_a, 1),
        ),
        "b": (
            f"(b) probe every 200 ms in a storm, {args.duration_b:g} s",
            1,
            lambda s, k, f: probe_storm(s, k, f, args.duration_b, 8, 1000, 0.2),
        ),
        "c": (
            f"(c) {args.rate_c:g} new incidents/s for {args.duration_c:g} s, 100 contacts",
            100,
            lambda s, k, f: paging(s, k, f, args.rate_c, args.duration_c, 100),
        ),
        "d": (
            f"(d) idle, {args.duration_d:g} s",
            1,
            lambda s, k, f: idle(s, k, f, args.duration_d),
        ),
        "e": (
            "(e) storm ingest, 8 clients",
            1,
            lambda s, k, f: _both_batches(s, k, args.posts_e100, args.posts_e1),
        ),
    }


async def _both_batches(server: Server, sink: Sink, posts100: int, posts1: int) -> Outcome:
    first = await ingest(server, sink, posts100, 100, 8)
    # B=1 on the same server: its alerts are repeats by now, as in most of storm.py's run.
    second = await ingest(server, sink, posts1, 1, 8)
    return Outcome({**first.figures, **second.figures}, first.problems + second.problems)


def run_with_sink(start: Callable[[int], Server], scenario: Scenario) -> Outcome:
    """One run on a fresh sink and the server `start(sink_port)` starts; the server stops
    before the sink, so its keep-alive connections close first."""
    sink = Sink()
    try:
        server = start(sink.port)
    except BaseException:
        sink.stop()
        raise
    records: list[list[tuple[float, bytes]]] = []

    def finish() -> list[tuple[float, bytes]]:
        if not records:
            server.stop()
            records.append(sink.stop())
        return records[0]

    try:
        return asyncio.run(scenario(server, sink, finish))
    finally:
        finish()


# Starts a setup other than Alertmanager: (setup, contacts, sink port, workdir) -> Server.
StartOther = Callable[[str, int, int, Path], Server]


def _starter(
    setup: str, contacts: int, workdir: Path, alertmanager: str, start_other: StartOther
) -> Callable[[int], Server]:
    def start(sink_port: int) -> Server:
        if setup == "alertmanager":
            return start_alertmanager(alertmanager, sink_port, contacts, workdir)
        return start_other(setup, contacts, sink_port, workdir)

    return start


def run_all(
    known: dict[str, tuple[str, int, Scenario]],
    chosen: Sequence[str],
    setups: Sequence[str],
    alertmanager: str,
    start_other: StartOther,
) -> int:
    """Each chosen scenario on each setup, every run on a fresh server and sink; prints
    the table and a FAIL line per problem, and returns the exit status."""
    results: dict[str, dict[str, Outcome]] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        for letter in chosen:
            title, contacts, run = known[letter]
            results[letter] = {}
            for setup in setups:
                print(f"{title}: {setup} ...", file=sys.stderr, flush=True)
                workdir = Path(tmp_name) / f"{letter}-{setup}"
                start = _starter(setup, contacts, workdir, alertmanager, start_other)
                results[letter][setup] = run_with_sink(start, run)
    print_table(results, {c: known[c][0] for c in chosen}, list(setups))
    problems = [p for by in results.values() for o in by.values() for p in o.problems]
    for problem in problems:
        print(f"FAIL: {problem}")
    return 1 if problems else 0


def ratio(firebell: float, alertmanager: float) -> str:
    if math.isnan(firebell) or math.isnan(alertmanager) or alertmanager == 0:
        return "-"
    return f"{firebell / alertmanager:.2f}"


def number(value: float) -> str:
    if math.isnan(value):
        return "-"
    if value >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:.2f}"


def print_table(
    results: dict[str, dict[str, Outcome]], titles: dict[str, str], setups: list[str]
) -> None:
    firebell = [s for s in setups if s != "alertmanager"]
    head = ["figure", *setups]
    if "alertmanager" in setups:
        head += [f"{s}/AM" for s in firebell]
    rows = [head]
    for letter, by_setup in results.items():
        rows.append([titles[letter]] + [""] * (len(head) - 1))
        names = list(dict.fromkeys(n for o in by_setup.values() for n in o.figures))
        for name in names:
            values = {s: by_setup[s].figures.get(name, math.nan) for s in setups if s in by_setup}
            row = ["  " + name, *(number(values.get(s, math.nan)) for s in setups)]
            if "alertmanager" in setups:
                am = values.get("alertmanager", math.nan)
                row += [ratio(values.get(s, math.nan), am) for s in firebell]
            rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    for r in rows:
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scenarios", default="a,b,c,d,e", help="letters, comma-separated")
    parser.add_argument("--setups", default=",".join(SETUPS), help="serve, split, alertmanager")
    parser.add_argument("--database-url", help="firebell's database (default: SQLite, temp)")
    parser.add_argument("--quick", action="store_true", help="short runs: a and b 5 s, c 3 s")
    parser.add_argument("--rate-a", type=float, default=100)
    parser.add_argument("--duration-a", type=float, default=20)
    parser.add_argument("--duration-b", type=float, default=10)
    parser.add_argument("--rate-c", type=float, default=1000)
    parser.add_argument("--duration-c", type=float, default=10)
    parser.add_argument("--duration-d", type=float, default=10)
    parser.add_argument("--posts-e100", type=int, default=3000)
    parser.add_argument("--posts-e1", type=int, default=20000)
    args = parser.parse_args()
    if args.quick:
        args.duration_a, args.duration_b, args.duration_c = 5.0, 5.0, 3.0
        args.duration_d, args.posts_e100, args.posts_e1 = 5.0, 600, 4000
    chosen = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    setups = [s.strip() for s in args.setups.split(",") if s.strip()]
    known = scenarios(args)
    if bad := [c for c in chosen if c not in known] + [s for s in setups if s not in SETUPS]:
        parser.error(f"unknown scenario or setup: {', '.join(bad)}")

    alertmanager = ensure_alertmanager() if "alertmanager" in setups else ""
    with tempfile.TemporaryDirectory() as probe:
        bundle_off = bundle_key_accepted(Path(probe))
    db = "postgresql" if args.database_url and "postgres" in args.database_url else "sqlite"
    print(
        f"firebell ({db}, bundling {'off' if bundle_off else 'not in this tree'}) "
        f"against {alertmanager_version(alertmanager) if alertmanager else '-'}"
    )

    def start_setup(setup: str, contacts: int, sink_port: int, workdir: Path) -> Server:
        split, url = setup == "split", args.database_url
        return start_firebell(split, url, sink_port, contacts, workdir, bundle_off)

    return run_all(known, chosen, setups, alertmanager, start_setup)


if __name__ == "__main__":
    sys.exit(main())
