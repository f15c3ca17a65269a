"""Live updates: `GET /events`, one server-sent-events stream of "what changed" ticks.

Events are named by topic (incidents, oncall, silences, runs) and carry a tiny JSON
marker, never HTML: each section of the page re-fetches its own fragment. Two sources:

- in this process, `changed(rt, *topics)` ticks at once (web actions, the
  incident_changed and playbook-progress hooks, the intake writer's commits);
- other processes and replicas: while at least one stream is open, one poller per
  process reads a change marker every second (primary-key maxima and counts served by
  indexes) and ticks the topics whose marker moved. No stream open, no queries.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot.runtime.state import Runtime

log = logging.getLogger("firebell.web.live")

TOPICS = ("incidents", "oncall", "silences", "runs")
PING_SECONDS = 15.0
POLL_SECONDS = 1.0
MAX_STREAMS = 500  # per process: each open tab holds one

# Each tuple moves whenever its topic changes in any process sharing the database.
_MARKER_SQL = {
    "incidents": (
        "SELECT (SELECT max(id) FROM timeline), (SELECT max(id) FROM inbox),"
        " (SELECT max(id) FROM notification), (SELECT max(id) FROM paging_decision),"
        " (SELECT max(id) FROM incident)"
    ),
    "silences": "SELECT count(*), count(expired_at) FROM silence",
    "runs": (
        "SELECT (SELECT max(id) FROM playbook_run), (SELECT max(id) FROM playbook_step),"
        " (SELECT max(id) FROM playbook_approval),"
        " (SELECT max(step_row_id) FROM playbook_output),"
        " (SELECT count(*) FROM playbook_run WHERE status = 'running')"
    ),
}


def read_markers(engine: Engine) -> dict[str, tuple[Any, ...]]:
    """The change marker of each database-backed topic (one connection, a few indexed reads)."""
    with engine.connect() as conn:
        return {topic: tuple(conn.execute(text(sql)).one()) for topic, sql in _MARKER_SQL.items()}


def moved(
    before: dict[str, tuple[Any, ...]] | None, after: dict[str, tuple[Any, ...]]
) -> list[str]:
    """Topics whose marker differs (none on the first read: it is the baseline)."""
    if before is None:
        return []
    return [topic for topic, marker in after.items() if before.get(topic) != marker]


class _Subscriber:
    def __init__(self) -> None:
        self.pending: set[str] = set()
        self.wake = asyncio.Event()
        self.closed = False  # the server is shutting down: end the stream

    def add(self, topics: Iterable[str]) -> None:
        self.pending.update(topics)
        self.wake.set()

    async def next(self, timeout: float) -> list[str]:
        """The topics changed since the last call; [] after `timeout` seconds of quiet."""
        try:
            await asyncio.wait_for(self.wake.wait(), timeout)
        except TimeoutError:
            return []
        self.wake.clear()
        topics, self.pending = sorted(self.pending), set()
        return topics


class Hub:
    """The streams of one process and the poller that runs while any is open."""

    def __init__(
        self,
        rt: Runtime,
        poll_seconds: float = POLL_SECONDS,
        markers: Callable[[], dict[str, tuple[Any, ...]]] | None = None,
    ) -> None:
        self.rt = rt
        self.poll_seconds = poll_seconds
        self._markers = markers or (lambda: read_markers(rt.read_engine))
        self.subscribers: set[_Subscriber] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.poller: asyncio.Task[None] | None = None
        self.polls = 0  # marker reads so far (tests: no stream, no reads)
        self.closing = False

    def changed(self, *topics: str) -> None:
        """Tick `topics` on every open stream; callable from any thread."""
        loop = self.loop
        if loop is None or loop.is_closed() or not self.subscribers:
            return
        # RuntimeError: the loop closed in between, so nobody is listening.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._broadcast, topics)

    def close(self) -> None:
        """End every stream (server shutdown: uvicorn otherwise waits for them, and an
        open tab would hold a stop for the whole graceful timeout). Any thread."""
        self.closing = True
        loop = self.loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._close_all)

    def _close_all(self) -> None:
        for sub in self.subscribers:
            sub.closed = True
            sub.wake.set()

    def _broadcast(self, topics: Iterable[str]) -> None:
        wanted = [t for t in topics if t in TOPICS]
        for sub in list(self.subscribers):
            sub.add(wanted)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[_Subscriber]:
        self.loop = asyncio.get_running_loop()
        sub = _Subscriber()
        sub.closed = self.closing
        self.subscribers.add(sub)
        if self.poller is None or self.poller.done():
            self.poller = asyncio.create_task(self._poll(), name="web-live-poller")
        try:
            yield sub
        finally:
            self.subscribers.discard(sub)
            if not self.subscribers and self.poller is not None:
                self.poller.cancel()
                self.poller = None

    async def _poll(self) -> None:
        before: dict[str, tuple[Any, ...]] | None = None
        minute = self.rt.clock().replace(second=0, microsecond=0)
        while self.subscribers:
            try:
                after = await asyncio.to_thread(self._markers)
                self.polls += 1
                self._broadcast(moved(before, after))
                before = after
            except Exception:  # a database hiccup: the streams stay, the next read retries
                log.warning("live marker read failed", exc_info=True)
            # Who is on call changes with the clock, not the database: tick each minute.
            now_minute = self.rt.clock().replace(second=0, microsecond=0)
            if now_minute != minute:
                minute = now_minute
                self._broadcast(["oncall"])
            await asyncio.sleep(self.poll_seconds)


def hub(rt: Runtime) -> Hub:
    found = rt.extras.get("web_live")
    if found is None:
        found = rt.extras["web_live"] = Hub(rt)
    assert isinstance(found, Hub)
    return found


def changed(rt: Runtime, *topics: str) -> None:
    """Something on the page changed in this process: tick its topics now."""
    found = rt.extras.get("web_live")
    if isinstance(found, Hub):
        found.changed(*topics)


def end_streams(rt: Runtime) -> None:
    """The server is stopping: close the open /events streams (browsers reconnect)."""
    found = rt.extras.get("web_live")
    if isinstance(found, Hub):
        found.close()


def install_live(rt: Runtime) -> Hub:
    """Hook the process's change points into the hub. Call before install_playbooks,
    which reads the playbook-progress hook once."""
    live = hub(rt)
    rt.extras.setdefault("incident_changed", []).append(
        lambda _incident_id, _action: live.changed("incidents")
    )
    rt.intake.committed.append(lambda _outcome: live.changed("incidents"))
    previous: Callable[[int], None] | None = rt.extras.get("playbook_progress")

    def progress(run_id: int) -> None:
        if previous is not None:
            previous(run_id)
        live.changed("runs")

    rt.extras["playbook_progress"] = progress
    return live


def sse_event(topic: str, marker: dict[str, Any]) -> str:
    return f"event: {topic}\ndata: {json.dumps(marker, separators=(',', ':'))}\n\n"


async def stream(rt: Runtime, live: Hub, ping_seconds: float = PING_SECONDS) -> AsyncIterator[str]:
    """The body of one /events response: a hello, then ticks and keep-alive pings until
    the client goes away (the response is cancelled then)."""
    async with live.subscribe() as sub:
        # Tells the client the stream is up; it then refreshes every section once.
        yield "retry: 2000\n" + sse_event("hello", {"topics": list(TOPICS)})
        while not sub.closed:
            topics = await sub.next(ping_seconds)
            if sub.closed:
                return
            if not topics:
                yield ": ping\n\n"
                continue
            at = rt.clock().isoformat()
            for topic in topics:
                yield sse_event(topic, {"topic": topic, "at": at})
