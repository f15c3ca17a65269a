"""The scenarios of benchmarks/alertmanager_compare.py (helper, not a test). Each runs
against one started server (compare_servers.Server) and its own loopback sink, and
returns named figures plus the problems found (a missing or duplicate page).

A page is found at the sink by the alert's `instance` label in the body (firebell's
json:// message lists it; Alertmanager's webhook carries the labels). Latency is from
the moment the request was written to the socket to the first arrival at the sink.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bench_support import HOST, Sink, content_length, percentile
from compare_servers import Server, alert, storm_alerts
from paging_rig import INSTANCE, WARMUP_BASE, Load, Sent

# Stops the server, then the sink (so the server's keep-alive connections close first),
# and returns what arrived at the sink.
Finish = Callable[[], list[tuple[float, bytes]]]
WARMUP = 20  # alerts sent one at a time first (imports, first connections); not counted


@dataclass
class Outcome:
    figures: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def first_arrivals(records: Sequence[tuple[float, bytes]]) -> tuple[dict[int, float], int]:
    """Each measured instance's first arrival, and how many arrivals repeat one."""
    first: dict[int, float] = {}
    repeats = 0
    for at, body in records:
        for i in {int(m) for m in INSTANCE.findall(body)}:
            if i >= WARMUP_BASE:
                continue
            if i in first:
                repeats += 1
                first[i] = min(first[i], at)
            else:
                first[i] = at
    return first, repeats


async def warm_up(server: Server, sink: Sink) -> None:
    load = Load(server.port)
    for k in range(WARMUP):
        before = sink.arrived.value
        await load.post(server.request([alert(WARMUP_BASE + k)]), Sent(0.0))
        deadline = time.time() + 10
        while sink.arrived.value <= before and time.time() < deadline:
            await asyncio.sleep(0.01)
    load.close()


async def settle(sink: Sink, quiet: float = 1.0, limit: float = 30.0) -> None:
    """Wait until nothing arrived at the sink for `quiet` seconds (at most `limit`)."""
    deadline = time.time() + limit
    last, since = sink.arrived.value, time.time()
    while time.time() < deadline and time.time() - since < quiet:
        await asyncio.sleep(0.05)
        if sink.arrived.value != last:
            last, since = sink.arrived.value, time.time()


async def open_loop(
    server: Server, rate: float, count: int, contacts: int, base: int = 0
) -> tuple[list[Sent], Load]:
    """`count` one-alert requests at `rate`/s, each at its instant (never waiting for
    earlier answers); alert i pages contact i % contacts."""
    requests = [server.request([alert(base + i, i % contacts)]) for i in range(count)]
    load = Load(server.port)
    start = time.time() + 0.2
    sent = [Sent(start + i / rate) for i in range(count)]
    tasks = []
    for request, record in zip(requests, sent, strict=True):
        delay = record.scheduled - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(load.post(request, record)))
    await asyncio.gather(*tasks)
    return sent, load


def page_figures(
    out: Outcome,
    server: Server,
    sent: Sequence[Sent],
    records: Sequence[tuple[float, bytes]],
    prefix: str = "",
) -> None:
    """Latency send -> sink, and the missing / duplicate pages among the accepted alerts."""
    accepted = {i: r for i, r in enumerate(sent) if r.status == server.accepted_status}
    first, repeats = first_arrivals(records)
    latencies = [(first[i] - r.sent) * 1000 for i, r in accepted.items() if i in first]
    missing = sum(i not in first for i in accepted)
    out.figures[f"{prefix}send->sink p50 ms"] = percentile(latencies, 0.5)
    out.figures[f"{prefix}send->sink p99 ms"] = percentile(latencies, 0.99)
    out.figures[f"{prefix}missing pages"] = missing
    out.figures[f"{prefix}duplicate pages"] = repeats
    # Refused (503 + Retry-After) or unanswered alerts are the server's back-pressure, not
    # lost pages: a sender retries them. They are counted; only lost or repeated pages fail.
    out.figures[f"{prefix}not accepted"] = sum(r.status != server.accepted_status for r in sent)
    if missing:
        out.problems.append(f"{server.name}: {missing} accepted alerts never paged")
    if repeats and not server.alertmanager:  # Alertmanager may resend a group by design
        out.problems.append(f"{server.name}: {repeats} duplicate pages")


async def paging(
    server: Server, sink: Sink, finish: Finish, rate: float, duration: float, contacts: int
) -> Outcome:
    """(a) and (c): new alerts open loop, one per request, each its own incident/group."""
    await warm_up(server, sink)
    warm = sink.arrived.value
    cpu = server.cpu()
    count = int(rate * duration)
    sent, load = await open_loop(server, rate, count, contacts)
    accepted = sum(r.status == server.accepted_status for r in sent)
    deadline = time.time() + 60  # bounded: a stuck server must not hang the run
    while sink.arrived.value < warm + accepted and time.time() < deadline:
        await asyncio.sleep(0.02)
    used = server.cpu() - cpu  # until the last page arrived
    await asyncio.sleep(0.5)  # a late duplicate lands before counting
    load.close()
    out = Outcome()
    span = max((r.accepted for r in sent if r.accepted), default=0.0) - sent[0].scheduled
    out.figures["accepted/s"] = accepted / max(span, 1e-9)
    out.figures["send->accepted p99 ms"] = percentile(
        [(r.accepted - r.sent) * 1000 for r in sent if r.accepted], 0.99
    )
    page_figures(out, server, sent, finish())
    out.figures["server CPU ms/alert"] = used / max(accepted, 1) * 1000
    return out


async def closed_client(
    port: int,
    requests: Sequence[bytes],
    latencies: list[float],
    statuses: Counter[int],
    until: float | None = None,
) -> None:
    """One keep-alive connection sending `requests` back to back (cycling until the
    monotonic time `until`, when given)."""
    reader, writer = await asyncio.open_connection(HOST, port)
    feed = itertools.cycle(requests) if until is not None else iter(requests)
    for request in feed:
        if until is not None and time.monotonic() >= until:
            break
        started = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(content_length(head))
        latencies.append(time.perf_counter() - started)
        statuses[int(head.split(b" ", 2)[1])] += 1
    writer.close()


def storm_requests(server: Server, posts: int, k: int, g: int, b: int) -> list[bytes]:
    return [server.request(alerts) for alerts in storm_alerts(posts, k, g, b)]


async def probe_storm(
    server: Server, sink: Sink, finish: Finish, duration: float, clients: int, k: int, every: float
) -> Outcome:
    """(b) a new critical alert every `every` s while `clients` keep-alive clients send
    storm.py's repeats (100 per request, K fingerprints) as fast as the server takes."""
    await warm_up(server, sink)
    requests = storm_requests(server, 400, k, 100, 100)
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    until = time.monotonic() + duration
    started = time.perf_counter()
    storm = [
        asyncio.create_task(
            closed_client(server.port, requests[c::clients], latencies, statuses, until)
        )
        for c in range(clients)
    ]
    probes: list[Sent] = []
    load = Load(server.port)
    posts = []
    begin = time.time() + every
    for i in range(int(duration / every) - 1):
        record = Sent(begin + i * every)
        probes.append(record)
        delay = record.scheduled - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        posts.append(asyncio.create_task(load.post(server.request([alert(i)]), record)))
    await asyncio.gather(*storm, *posts)
    elapsed = time.perf_counter() - started
    await settle(sink)
    load.close()
    out = Outcome()
    # The probe's own 202 splits its latency: the wait behind the storm in the intake,
    # then the paging after the commit.
    answered = [(r.accepted - r.sent) * 1000 for r in probes if r.accepted]
    out.figures["probe send->accepted p50 ms"] = percentile(answered, 0.5)
    out.figures["probe send->accepted p99 ms"] = percentile(answered, 0.99)
    page_figures(out, server, probes, finish(), "probe ")
    out.figures["storm alerts/s"] = statuses[server.accepted_status] * 100 / elapsed
    out.figures["storm request p99 ms"] = percentile(latencies, 0.99) * 1000
    out.figures["storm requests not accepted"] = sum(
        n for s, n in statuses.items() if s != server.accepted_status
    )
    return out


async def idle(server: Server, sink: Sink, finish: Finish, duration: float) -> Outcome:
    """(d) the server's CPU while nothing arrives, after a warm-up."""
    await warm_up(server, sink)
    await asyncio.sleep(1.0)
    cpu, started = server.cpu(), time.monotonic()
    await asyncio.sleep(duration)
    used = server.cpu() - cpu
    finish()
    return Outcome({"idle CPU % of a core": used / (time.monotonic() - started) * 100})


async def ingest(server: Server, sink: Sink, posts: int, batch: int, clients: int) -> Outcome:
    """(e) storm.py's ingest: `posts` requests of `batch` alerts from K=1000 fingerprints
    in G=100 groups over `clients` closed-loop clients."""
    requests = storm_requests(server, posts, 1000, 100, batch)
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    cpu = server.cpu()
    started = time.perf_counter()
    await asyncio.gather(
        *(
            closed_client(server.port, requests[c::clients], latencies, statuses)
            for c in range(clients)
        )
    )
    elapsed = time.perf_counter() - started
    used = server.cpu() - cpu
    await settle(sink, quiet=0.5, limit=10)
    accepted = statuses[server.accepted_status] * batch
    out = Outcome(
        {
            f"B={batch} alerts/s": accepted / elapsed,
            f"B={batch} request p50 ms": percentile(latencies, 0.5) * 1000,
            f"B={batch} request p99 ms": percentile(latencies, 0.99) * 1000,
            f"B={batch} server CPU µs/alert": used / max(accepted, 1) * 1e6,
        }
    )
    out.figures[f"B={batch} requests not accepted"] = sum(
        n for s, n in statuses.items() if s != server.accepted_status
    )
    return out
