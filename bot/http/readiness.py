"""/readyz: may this process take traffic now?

Ready when the database answers `SELECT 1` on a read session (which never queues behind
a writer) within `PROBE_DEADLINE`, and every loop this process's role runs (the intake
writer thread, the paging worker, the syslog listener; bot.runtime.heartbeats) is alive
and stamped its heartbeat within `intake.stall_after`. Otherwise 503 with Retry-After,
naming each part at fault in `checks`. The answer never takes much longer than the
deadline: a database that does not answer (a network partition) is reported as such
while its probe goes on in the background, one probe at a time.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine, text

from bot.runtime.heartbeats import unready_parts
from bot.runtime.problems import unavailable_response
from bot.runtime.state import Runtime
from routing.storage.database import is_unavailable

PROBE_DEADLINE = 0.8  # seconds: /readyz answers within a second


class DatabaseProbe:
    """`SELECT 1` on its own thread; a probe still waiting on a silent database is
    awaited again rather than joined by a second one."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="firebell-readyz")
        self._running: asyncio.Future[None] | None = None

    def _select_one(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    async def check(self, deadline: float) -> str:
        """One of: ok, down, failed (an error other than an unreachable database: a
        corrupt file, a broken schema), or no answer within the deadline."""
        if self._running is None or self._running.done():
            loop = asyncio.get_running_loop()
            self._running = loop.run_in_executor(self._thread, self._select_one)
            # A probe that outlives its deadline may fail with nobody awaiting it.
            self._running.add_done_callback(_consume_outcome)
        try:
            await asyncio.wait_for(asyncio.shield(self._running), deadline)
        except TimeoutError:
            return f"no answer within {deadline:g}s"
        except Exception as exc:
            # Not ready either way: /readyz says so (503), never answers 500. The class
            # only: a driver's message may carry a host name or a parameter.
            return "down" if is_unavailable(exc) else f"failed: {type(exc).__name__}"
        return "ok"


def _consume_outcome(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()  # marks it retrieved: the next /readyz reports the state


def _probe(rt: Runtime) -> DatabaseProbe:
    probe = rt.extras.get("database_probe")
    if not isinstance(probe, DatabaseProbe):
        probe = rt.extras["database_probe"] = DatabaseProbe(rt.read_engine)
    return probe


async def readiness(rt: Runtime) -> Response:
    database = await _probe(rt).check(PROBE_DEADLINE)
    stall_after = rt.settings.intake.stall_after.total_seconds()
    beats = rt.heartbeats.snapshot()
    problems = unready_parts(beats, time.monotonic(), stall_after)
    checks = {"database": database} | {b.name: problems.get(b.name, "ok") for b in beats}
    if database == "ok" and not problems:
        return JSONResponse({"status": "ready", "database": "ok", "checks": checks})
    faults = [f"{name} {state}" for name, state in checks.items() if state != "ok"]
    return unavailable_response("not ready: " + "; ".join(faults), {"checks": checks})
