"""How a process without uvicorn (`firebell worker`, `firebell slack-socket`) learns to stop:
SIGTERM (docker stop, systemd) or SIGINT (Ctrl-C) sets an event, as uvicorn does for serve."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


@asynccontextmanager
async def stop_requested() -> AsyncIterator[asyncio.Event]:
    """An event set by SIGTERM or SIGINT while the block runs; the handlers go with it."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread, or no signal support (Windows): cancel instead
    try:
        yield stop
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
