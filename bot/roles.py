"""The composition root: what each firebell process builds and runs.

  role                started by                                  runs
  serve               firebell serve                              HTTP, intake, syslog, workers
  serve --no-workers  firebell serve --no-workers                 HTTP, intake, syslog
  worker              firebell worker                             the workers, no HTTP
  command             firebell incident | discord | slack-socket  the database and its command

Every role has the intake writer (commands and the sweeper write through it too), routes
the incidents it opens in the ingest transaction, and keeps chat messages in step with
what it changes. Only `serve` roles listen; only roles with workers page, follow up,
remind and sweep, so a CLI command beside a running server starts no second listener.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI

from bot.chat.wiring import chat_routers, install_chat
from bot.config import Settings
from bot.http.app import InsecureBinding, has_credentials, http_app, is_loopback
from bot.runtime.intake_writer import Intake
from bot.runtime.metrics import Metrics
from bot.runtime.signals import stop_requested
from bot.runtime.state import (
    COMMAND,
    SERVE,
    SERVE_NO_WORKERS,
    WORKER,
    Role,
    Runtime,
    ingest_policy,
    intake_limits,
    utc_now,
)
from bot.web import install_web
from bot.web.live import install_live
from bot.workers.paging_worker import install_paging
from bot.workers.playbook_worker import install_playbooks
from bot.workers.sweeper import run_quiet_sweeper
from routing.storage.database import is_sqlite, make_engine
from routing.storage.migrate import upgrade

log = logging.getLogger("firebell.roles")


def build_runtime(
    settings: Settings,
    role: Role,
    *,
    host: str = "127.0.0.1",
    clock: Callable[[], datetime] = utc_now,
    migrate_sqlite: bool = True,
) -> Runtime:
    """The runtime of one process: database, intake writer, paging hooks and chat sync,
    plus the listeners and workers its role runs. Nothing starts until its lifecycle is
    entered."""
    open_access = not has_credentials(settings)
    if role.http and open_access and not is_loopback(host):
        raise InsecureBinding(
            f"refusing to listen on {host} without credentials: set api_tokens "
            "(or source tokens) in the config, or bind to 127.0.0.1"
        )
    if role.http and open_access:
        log.warning("no tokens configured: webhooks and API are open (loopback only)")
    if migrate_sqlite and is_sqlite(settings.database_url):
        upgrade(settings.database_url)
    engine = make_engine(settings.database_url, timeouts=settings.database.postgres_timeouts())
    intake = Intake(engine, ingest_policy(settings), clock, limits=intake_limits(settings))
    rt = Runtime(settings, engine, intake, Metrics(), clock, open_access, role)
    rt.lifecycle.add(lambda: _intake_running(rt))
    if role.listeners and settings.sources.nginx.syslog is not None:
        rt.lifecycle.add(lambda: _syslog_running(rt))
    if role.workers:
        rt.lifecycle.add(lambda: _sweeper_running(rt))
    # Paging before chat: the chat sync edits the messages the outbox posted.
    install_paging(rt)
    install_chat(rt)
    if role.http:  # the page's live ticks: hooks read by install_playbooks below
        install_live(rt)
    # After chat: the runner posts progress through the chat layer's hooks.
    install_playbooks(rt)
    rt.lifecycle.add(_frozen_heap)
    return rt


def create_app(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    clock: Callable[[], datetime] = utc_now,
    migrate_sqlite: bool = True,
    workers: bool = True,
) -> FastAPI:
    """The app `firebell serve` runs; `workers=False` for `serve --no-workers`."""
    rt = build_runtime(
        settings,
        SERVE if workers else SERVE_NO_WORKERS,
        host=host,
        clock=clock,
        migrate_sqlite=migrate_sqlite,
    )
    app = http_app(rt)
    for router in chat_routers(rt):
        app.include_router(router)
    install_web(app, rt)
    return app


def command_runtime(settings: Settings) -> Runtime:
    """For one CLI command, `firebell discord` or `firebell slack-socket`."""
    return build_runtime(settings, COMMAND)


async def run_worker(settings: Settings) -> int:
    """`firebell worker`: the workers without HTTP, until SIGTERM or SIGINT."""
    rt = build_runtime(settings, WORKER)
    async with stop_requested() as stop, rt.lifecycle.running():
        log.info("worker running: paging, follow-ups, reminders, quiet sweeper")
        await stop.wait()
    return 0


@asynccontextmanager
async def _intake_running(rt: Runtime) -> AsyncIterator[None]:
    rt.intake.start(rt.heartbeats)
    try:
        yield
    finally:
        await asyncio.to_thread(rt.intake.stop)
        rt.engine.dispose()


@asynccontextmanager
async def _syslog_running(rt: Runtime) -> AsyncIterator[None]:
    from bot.workers.syslog_listener import start_syslog

    syslog = rt.settings.sources.nginx.syslog
    assert syslog is not None
    listener = await start_syslog(rt, syslog.listen)
    try:
        yield
    finally:
        listener.close()


@asynccontextmanager
async def _sweeper_running(rt: Runtime) -> AsyncIterator[None]:
    task = asyncio.create_task(run_quiet_sweeper(rt), name="nginx-quiet-sweeper")
    try:
        yield
    finally:
        task.cancel()


@asynccontextmanager
async def _frozen_heap() -> AsyncIterator[None]:
    # Everything built so far (modules, config, engine) lives as long as the process:
    # keep it out of the cyclic GC's full collections, which otherwise scan it all
    # and stalled an alert storm's write batches by ~150 ms (p99 8x the median).
    gc.freeze()
    yield
