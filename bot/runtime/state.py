"""The objects one running firebell process shares between its parts.

`Runtime` is built by the composition root (`bot.roles`) for one process role; each part
the role runs (the intake writer, listeners, workers, chat sync) adds its start and stop
to `Runtime.lifecycle`, which the HTTP app's lifespan or a headless process enters.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from bot.runtime.heartbeats import Heartbeats
from bot.runtime.intake_writer import Intake, IntakeLimits
from bot.runtime.metrics import Metrics
from routing.intake.alert import Alert
from routing.intake.dedup import DedupPolicy
from routing.intake.submission import IngestPolicy
from routing.muting.tree import group_by_for
from routing.paging.triage import routing_labels
from routing.storage.database import read_only

if TYPE_CHECKING:
    from bot.config import Settings


class CannotStart(RuntimeError):
    """A process refuses to start (an unsafe binding, a held worker lock, an old schema):
    the CLI prints the reason on one line and exits 2."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Role:
    """What one process runs (see bot.roles for the roles the CLI starts)."""

    name: str
    http: bool  # serves HTTP: webhooks, REST, chat endpoints
    listeners: bool  # the syslog listener (intake beside HTTP)
    workers: bool  # paging worker, follow-ups, reminders, the Nginx quiet sweeper


SERVE = Role("serve", http=True, listeners=True, workers=True)
SERVE_NO_WORKERS = Role("serve --no-workers", http=True, listeners=True, workers=False)
WORKER = Role("worker", http=False, listeners=False, workers=True)
COMMAND = Role("command", http=False, listeners=False, workers=False)


class Lifecycle:
    """The start and stop of each part a process runs: entered in the order added, left
    in reverse, so the intake writer (added first) outlives everything that feeds it."""

    def __init__(self) -> None:
        self._parts: list[Callable[[], AbstractAsyncContextManager[Any]]] = []

    def add(self, part: Callable[[], AbstractAsyncContextManager[Any]]) -> None:
        self._parts.append(part)

    def add_service(
        self, start: Callable[[], Awaitable[None]], stop: Callable[[], Awaitable[None]]
    ) -> None:
        """A part with an async start and stop (the paging worker, the chat sync)."""

        @asynccontextmanager
        async def running() -> AsyncIterator[None]:
            await start()
            try:
                yield
            finally:
                await stop()

        self.add(running)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            for part in self._parts:
                await stack.enter_async_context(part())
            yield


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    intake: Intake
    metrics: Metrics
    clock: Callable[[], datetime] = utc_now
    open_access: bool = False  # no tokens configured and bound to loopback
    role: Role = SERVE
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    extras: dict[str, Any] = field(default_factory=dict)
    # The loops this process runs stamp these; /readyz reads them (bot.runtime.heartbeats).
    heartbeats: Heartbeats = field(default_factory=Heartbeats)
    # The same pool for read sessions, which never wait for a writer (see read_only).
    read_engine: Engine = field(init=False)

    def __post_init__(self) -> None:
        self.read_engine = read_only(self.engine)
        self.metrics.track_intake(self.intake.queue)


def intake_limits(settings: Settings) -> IntakeLimits:
    """The intake writer's bounds, from the config's `intake:` section."""
    conf = settings.intake
    return IntakeLimits(
        queue_size=conf.queue_size,
        syslog_queue_size=conf.syslog_queue_size,
        syslog_per_batch=conf.syslog_batch,
        request_timeout=conf.request_timeout.total_seconds(),
    )


def ingest_policy(settings: Settings) -> IngestPolicy:
    """The intake's dedup and grouping policy, from the config."""
    grouping = settings.grouping
    default = DedupPolicy(
        reopen_window=grouping.reopen_window,
        flap_flips=grouping.flap_flips,
        flap_quiet=grouping.flap_quiet,
    )
    nginx = settings.sources.nginx
    nginx_policy = DedupPolicy(
        reopen_window=grouping.reopen_window,
        flap_flips=grouping.flap_flips,
        flap_quiet=grouping.flap_quiet,
        threshold_count=nginx.threshold.count,
        threshold_window=nginx.threshold.window,
        count_at_reported_time=True,  # each line at its own time (nginx_line)
    )
    tree = settings.route_tree

    def route_group_by(alert: Alert) -> tuple[str, ...]:
        # Matched on the labels routes see, so grouping follows the route that pages.
        labels = routing_labels(alert.labels, alert.severity.value, alert.service, alert.source)
        return group_by_for(tree, labels)

    return IngestPolicy(
        group_by=tuple(grouping.group_by),
        correlate_within=grouping.correlate_within,
        route_group_by=route_group_by,
        default=default,
        per_source={"nginx": nginx_policy},
    )
