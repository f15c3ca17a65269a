"""Heartbeats of the loops a process runs, and the pure readiness decision over them.

Each long-running part (the intake writer thread, the paging worker, the syslog listener)
registers a heartbeat when it starts and stamps it with `time.monotonic()` every turn of
its loop, busy or idle. A part is *dead* when its thread or task has ended and *stalled*
when its last stamp is older than `stall_after`. A role registers only the parts it
runs, so `serve --no-workers` is never held unready by a paging worker it does not have.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass


class Heartbeat:
    """One part's last sign of life; `stamp()` is cheap and safe from any thread."""

    def __init__(self, name: str, alive: Callable[[], bool] | None = None) -> None:
        self.name = name
        self.last = time.monotonic()
        self._alive = alive  # e.g. Thread.is_alive: False means the part has died

    def stamp(self) -> None:
        self.last = time.monotonic()

    def snapshot(self) -> Beat:
        return Beat(self.name, self.last, self._alive() if self._alive is not None else True)


@dataclass(frozen=True, slots=True)
class Beat:
    """A heartbeat as read at one moment."""

    name: str
    last: float  # time.monotonic() of the last stamp
    alive: bool


class Heartbeats:
    """The heartbeats of the parts running in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._beats: dict[str, Heartbeat] = {}

    def register(self, name: str, alive: Callable[[], bool] | None = None) -> Heartbeat:
        beat = Heartbeat(name, alive)
        with self._lock:
            self._beats[name] = beat
        return beat

    def unregister(self, beat: Heartbeat) -> None:
        """A part stopped on purpose (shutdown) is no longer expected to beat."""
        with self._lock:
            if self._beats.get(beat.name) is beat:
                del self._beats[beat.name]

    def snapshot(self) -> list[Beat]:
        with self._lock:
            beats = list(self._beats.values())
        return [beat.snapshot() for beat in beats]


def unready_parts(beats: Iterable[Beat], now: float, stall_after: float) -> dict[str, str]:
    """Part name -> why it is not ready ("dead", or "stalled: no heartbeat for 12.3s"),
    for the parts that are dead or whose last stamp is older than `stall_after` seconds
    at `now` (monotonic). Empty when every part is well."""
    problems: dict[str, str] = {}
    for beat in beats:
        if not beat.alive:
            problems[beat.name] = "dead"
        elif now - beat.last > stall_after:
            problems[beat.name] = f"stalled: no heartbeat for {now - beat.last:.1f}s"
    return problems
