"""The intake writer's bounded queue: two lanes, requests before syslog lines.

A lane refuses work once it holds its capacity, so memory stays flat under a flood (a
webhook then answers 503 with Retry-After; a UDP syslog line is dropped and counted).
The writer takes every waiting request first; syslog lines go in batches of their own,
at most `syslog_per_batch` lines, only when no request waits, so a syslog flood never
makes a webhook wait for more than one small batch.

Each queued submission moves through states under the queue's lock, which is what lets
a request that stops waiting know whether its work will be written:

    QUEUED --writer takes it--> TAKEN --committed or failed--> DONE
    QUEUED --its waiter gives up--> removed: never written (the client's retry is new)
    TAKEN  --its waiter gives up--> ORPHANED: written later; see bot.runtime.retry_ledger
    FOLLOWING: a retry waiting on an orphan rather than queued a second time
    QUEUED or FOLLOWING --its waiter gives up--> WITHDRAWN
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from enum import Enum, IntEnum

from routing.intake.submission import Submission, SubmissionOutcome


class Lane(IntEnum):
    """Served in this order."""

    REQUEST = 0  # webhooks, chat commands, the quiet sweeper: someone waits for the answer
    SYSLOG = 1  # UDP/TCP syslog lines: nobody waits, UDP cannot even be told to slow down


class State(Enum):
    QUEUED = "queued"
    TAKEN = "taken"
    ORPHANED = "orphaned"
    FOLLOWING = "following"
    WITHDRAWN = "withdrawn"
    DONE = "done"


@dataclass(slots=True, eq=False)
class Pending:
    """A submission and who waits for it: an asyncio future on `loop` (requests) or a
    thread-safe future (syslog lines, `Intake.offer`)."""

    submission: Submission
    future: Future[SubmissionOutcome] | asyncio.Future[SubmissionOutcome]
    loop: asyncio.AbstractEventLoop | None = None
    lane: Lane = Lane.REQUEST
    state: State = State.QUEUED
    key: bytes | None = None  # the retry ledger's key, set when its waiter gives up
    result: SubmissionOutcome | None = None
    error: BaseException | None = None
    followers: list[Pending] = field(default_factory=list)


class IntakeQueue:
    def __init__(self, capacity: dict[Lane, int], syslog_per_batch: int = 32) -> None:
        self.capacity = capacity
        self.syslog_per_batch = syslog_per_batch
        self.lock = threading.Lock()
        self._ready = threading.Condition(self.lock)
        self._lanes: dict[Lane, deque[Pending]] = {lane: deque() for lane in Lane}
        self._stopping = False

    def put(self, pending: Pending) -> bool:
        """Queue `pending` on its lane; False (nothing queued) when the lane is full."""
        with self.lock:
            return self.put_locked(pending)

    def put_locked(self, pending: Pending) -> bool:
        """`put` for a caller that holds `lock`."""
        lane = self._lanes[pending.lane]
        if len(lane) >= self.capacity[pending.lane]:
            return False
        lane.append(pending)
        self._ready.notify()
        return True

    def has_room(self, lane: Lane) -> bool:
        """A cheap look before parsing a line that would only be dropped (no lock: a
        stale answer costs one parse or one line that `put` then refuses)."""
        return len(self._lanes[lane]) < self.capacity[lane]

    def depth(self, lane: Lane) -> int:
        return len(self._lanes[lane])

    def depth_total(self) -> int:
        return sum(len(lane) for lane in self._lanes.values())

    def take(self, max_batch: int, wait: float) -> list[Pending] | None:
        """The next batch: the waiting requests or, when none waits, up to
        `syslog_per_batch` syslog lines. [] when nothing came within `wait` seconds; None
        once stopped and empty."""
        with self.lock:
            requests, lines = self._lanes[Lane.REQUEST], self._lanes[Lane.SYSLOG]
            if not requests and not lines:
                if self._stopping:
                    return None
                self._ready.wait(wait)
            batch: list[Pending] = []
            while requests and len(batch) < max_batch:
                batch.append(requests.popleft())
            # Lines only in a batch of their own, and a small one: a request that comes
            # meanwhile waits for at most that batch, then goes first.
            room = 0 if batch else min(max_batch, self.syslog_per_batch)
            while lines and room > 0:
                batch.append(lines.popleft())
                room -= 1
            for pending in batch:
                pending.state = State.TAKEN
            return batch

    def withdraw(self, pending: Pending) -> State:
        """Called by a waiter that gives up; returns the state it found: QUEUED (now
        removed, never to be written), TAKEN (now ORPHANED), FOLLOWING (no longer
        following) or DONE. The caller holds `lock`."""
        found = pending.state
        if found is State.QUEUED:
            self._lanes[pending.lane].remove(pending)
            pending.state = State.WITHDRAWN
        elif found is State.FOLLOWING:
            pending.state = State.WITHDRAWN
        elif found is State.TAKEN:
            pending.state = State.ORPHANED
        return found

    def stop(self) -> None:
        """The writer finishes what is queued, then `take` returns None."""
        with self.lock:
            self._stopping = True
            self._ready.notify_all()
