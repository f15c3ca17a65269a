"""What the background workers' loops (paging, playbooks) share: a thread-safe wake-up
and a stop that lets the loop's pass finish before cancelling it."""

from __future__ import annotations

import asyncio
from contextlib import suppress


def wake_loop(loop: asyncio.AbstractEventLoop | None, wake: asyncio.Event) -> None:
    """From any thread: set `wake` on `loop` (nothing once the loop is gone or closed)."""
    if loop is not None and not loop.is_closed():
        loop.call_soon_threadsafe(wake.set)


async def stop_loop_task(task: asyncio.Task[None] | None, grace: float) -> None:
    """Wait up to `grace` seconds for the loop's task to end by itself, then cancel it."""
    if task is None:
        return
    try:
        await asyncio.wait_for(asyncio.shield(task), grace)
    except TimeoutError:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
