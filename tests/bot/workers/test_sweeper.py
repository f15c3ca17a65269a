"""The Nginx quiet sweeper against real intake writers on SQLite and PostgreSQL: a line
that lands between the sweep's read and its resolve keeps the alert firing, and several
sweepers (one per replica, each with its own writer) resolve each quiet alert once."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from bot.config import Settings
from bot.roles import build_runtime
from bot.runtime.state import COMMAND, Runtime
from bot.workers.sweeper import quiet_submission, sweep_once
from integrations.sources import SourceOptions
from integrations.sources.nginx import nginx
from routing.intake.alert import AlertStatus
from routing.intake.dedup import DecisionKind, DedupPolicy, EpisodeState, EpisodeStatus, decide
from routing.intake.episode_store import ALERT
from routing.intake.submission import Submission
from routing.storage.timeline import TIMELINE

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
QUIET = timedelta(minutes=10)
SERVERS = [f"s{i}.example.org" for i in range(12)]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def settings(database_url: str) -> Settings:
    return Settings.model_validate(
        {
            "database_url": database_url,
            "services": {server: f"svc{i}" for i, server in enumerate(SERVERS)},
            "sources": {"nginx": {"resolve_after": "10m"}},
        }
    )


@asynccontextmanager
async def replicas(database_url: str, count: int, clock: Clock) -> AsyncIterator[list[Runtime]]:
    """`count` runtimes on one database, each with its own engine and intake writer (as
    replicas have); their sweeps are run by hand, with the test's clock."""
    async with AsyncExitStack() as stack:
        runtimes = []
        for _ in range(count):
            rt = build_runtime(settings(database_url), COMMAND, clock=clock)
            await stack.enter_async_context(rt.lifecycle.running())
            runtimes.append(rt)
        yield runtimes


def line(server: str) -> bytes:
    return (
        f"2026/12/01 09:00:00 [error] 7#7: *1 connect() failed (111: Connection refused) "
        f"while connecting to upstream, client: 10.0.0.1, server: {server}, "
        f'request: "GET / HTTP/1.1", upstream: "http://10.0.0.9:8080/", host: "{server}"'
    ).encode()


async def send_lines(rt: Runtime, servers: list[str]) -> list[DecisionKind]:
    options = SourceOptions(services=dict(rt.settings.services))
    alerts = [nginx.parse(line(server), {}, options).alerts[0] for server in servers]
    outcome = await rt.intake.submit(Submission("nginx", alerts, body=b"lines"))
    return [a.kind for a in outcome.alerts]


def rows(
    rt: Runtime, query: Callable[[], sa.Select[tuple[object, ...]]]
) -> list[tuple[object, ...]]:
    with rt.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(query())]


def statuses(rt: Runtime) -> list[str]:
    return [str(r[0]) for r in rows(rt, lambda: sa.select(ALERT.c.status).order_by(ALERT.c.id))]


def resolved_entries(rt: Runtime) -> list[tuple[object, ...]]:
    """(incident, count) of the incidents' `resolved` timeline entries."""
    return rows(
        rt,
        lambda: (
            sa.select(TIMELINE.c.incident_id, sa.func.count())
            .where(TIMELINE.c.kind == "resolved")
            .group_by(TIMELINE.c.incident_id)
        ),
    )


def test_a_line_between_read_and_resolve_keeps_the_alert_firing(database_url: str) -> None:
    asyncio.run(_a_line_between_read_and_resolve_keeps_the_alert_firing(database_url))


async def _a_line_between_read_and_resolve_keeps_the_alert_firing(database_url: str) -> None:
    clock = Clock()
    async with replicas(database_url, 1, clock) as [rt]:
        assert await send_lines(rt, SERVERS[:2]) == [DecisionKind.NEW] * 2
        clock.now = T0 + QUIET + timedelta(minutes=1)
        due = await asyncio.to_thread(quiet_submission, rt, clock())
        assert due is not None and len(due.alerts) == 2  # both quiet when read
        assert await send_lines(rt, SERVERS[:1]) == [DecisionKind.REPEAT]  # then a new line
        outcome = await rt.intake.submit(due)
        assert [a.kind for a in outcome.alerts] == [DecisionKind.STALE, DecisionKind.RESOLVE]
        assert statuses(rt) == ["firing", "resolved"]
        assert len(resolved_entries(rt)) == 1
        # Quiet again for the whole period: now it resolves.
        clock.now += QUIET + timedelta(seconds=1)
        assert await sweep_once(rt) == 1
        assert statuses(rt) == ["resolved", "resolved"]


def test_two_sweepers_resolve_each_quiet_alert_once(database_url: str) -> None:
    asyncio.run(_two_sweepers_resolve_each_quiet_alert_once(database_url))


async def _two_sweepers_resolve_each_quiet_alert_once(database_url: str) -> None:
    clock = Clock()
    async with replicas(database_url, 2, clock) as (first, second):
        await send_lines(first, SERVERS)
        clock.now = T0 + QUIET + timedelta(minutes=1)
        resolved = await asyncio.gather(sweep_once(first), sweep_once(second))
        assert sum(resolved) == len(SERVERS)
        clock.now += timedelta(seconds=15)
        assert await asyncio.gather(sweep_once(first), sweep_once(second)) == [0, 0]
        assert statuses(first) == ["resolved"] * len(SERVERS)
        entries = resolved_entries(first)
        assert len(entries) == len(SERVERS) and {n for _, n in entries} == {1}


def test_a_late_sweeper_does_not_resolve_a_reopened_alert(database_url: str) -> None:
    asyncio.run(_a_late_sweeper_does_not_resolve_a_reopened_alert(database_url))


async def _a_late_sweeper_does_not_resolve_a_reopened_alert(database_url: str) -> None:
    """Both replicas read the same quiet alerts; one resolves them, new lines reopen them
    (within the reopen window), then the other one's resolves arrive: they must not hold."""
    clock = Clock()
    async with replicas(database_url, 2, clock) as (first, second):
        await send_lines(first, SERVERS)
        clock.now = T0 + QUIET + timedelta(minutes=1)
        early = await asyncio.to_thread(quiet_submission, first, clock())
        late = await asyncio.to_thread(quiet_submission, second, clock())
        assert early is not None and late is not None
        outcome = await first.intake.submit(early)
        assert outcome.count(DecisionKind.RESOLVE) == len(SERVERS)
        clock.now += timedelta(seconds=5)
        assert await send_lines(second, SERVERS) == [DecisionKind.REOPEN] * len(SERVERS)
        outcome = await second.intake.submit(late)
        assert outcome.count(DecisionKind.RESOLVE) == 0
        assert statuses(first) == ["firing"] * len(SERVERS)
        assert {n for _, n in resolved_entries(first)} == {1}  # resolved once, reopened


def test_the_pure_decision_resolves_only_what_is_still_quiet() -> None:
    alert = nginx.parse(line(SERVERS[0]), {}, SourceOptions()).alerts[0]
    resolve = dataclasses.replace(alert, status=AlertStatus.RESOLVED)
    policy = DedupPolicy()
    cutoff = T0 + timedelta(minutes=1)
    seen_at = {"before": T0, "at": cutoff, "after": cutoff + timedelta(seconds=1)}
    kinds = {}
    for name, last_seen in seen_at.items():
        state = EpisodeState(EpisodeStatus.FIRING, first_seen=T0, last_seen=last_seen)
        kinds[name] = decide(resolve, state, cutoff + QUIET, policy, quiet_before=cutoff).kind
    assert kinds == {
        "before": DecisionKind.RESOLVE,
        "at": DecisionKind.STALE,  # as the sweeper's query: last_seen < cutoff
        "after": DecisionKind.STALE,
    }
    resolved = EpisodeState(EpisodeStatus.RESOLVED, T0, T0, resolved_at=T0)
    assert decide(resolve, resolved, cutoff, policy, cutoff).kind is DecisionKind.STALE
