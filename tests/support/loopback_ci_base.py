"""The server under the fake CIs of tests/support/loopback_ci.py: records every request,
routes it to the fake, and can drop a connection after accepting a request (the run
exists, the answer never arrives)."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.support.loopback_http import LoopbackServer, RecordedRequest, Reply


class _Drop:
    def __repr__(self) -> str:
        return "DROP"


DROP = _Drop()  # create the run, then close the connection without an answer


@dataclass(frozen=True)
class Created:
    """Create the run, then answer `reply` instead of the usual (a 500 after creating)."""

    reply: Reply


Outcome = Reply | Created | _Drop  # a bare Reply: answered instead, nothing created


@dataclass
class FakeRun:
    """One run (workflow run, pipeline, Jenkins build) a dispatch created."""

    id: int
    correlation: str  # firebell_run_id / FIREBELL_RUN_ID as received ("" if none)
    params: dict[str, str]  # inputs / variables / parameters as received
    ref: str
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    polls: int = 0  # reads of its status so far
    cancelled: bool = False

    def step(self, sequence: list[Any]) -> Any:
        """The sequence entry this read shows, then advance (the last entry repeats)."""
        entry = sequence[min(self.polls, len(sequence) - 1)]
        self.polls += 1
        return entry


class FakeCiServer(LoopbackServer):
    """Base of the fakes: `requests` (all), `dispatches` (the dispatch requests that
    reached the fake, whatever it answered), `runs`, `errors` (wire-format breaches:
    the handler raised, the server answered 500; close() re-raises the first)."""

    def __init__(self) -> None:
        self.dispatches: list[RecordedRequest] = []
        self.runs: list[FakeRun] = []
        self.lock = threading.RLock()
        self._dispatch_script: deque[Outcome] = deque()
        self._read_script: deque[Reply] = deque()
        super().__init__(self._answer)

    # -- scripting -------------------------------------------------------------------
    def script_dispatch(self, *outcomes: Outcome) -> None:
        """The next dispatches get these outcomes, in order; then the normal answer."""
        with self.lock:
            self._dispatch_script.extend(outcomes)

    def script_read(self, *replies: Reply) -> None:
        """The next GETs (status reads, lists) answer these, in order, before routing."""
        with self.lock:
            self._read_script.extend(replies)

    def run_by_correlation(self, correlation: str) -> FakeRun:
        with self.lock:
            return next(run for run in self.runs if run.correlation == correlation)

    # -- what a fake implements ------------------------------------------------------
    def route(self, request: RecordedRequest) -> Reply:
        raise NotImplementedError

    def is_dispatch(self, request: RecordedRequest) -> bool:
        raise NotImplementedError

    # -- plumbing --------------------------------------------------------------------
    def _answer(self, request: RecordedRequest) -> Reply | None:
        """The scripted outcome or the fake's answer; None drops the connection."""
        with self.lock:
            if self.is_dispatch(request):
                self.dispatches.append(request)
                if self._dispatch_script:
                    outcome = self._dispatch_script.popleft()
                    if isinstance(outcome, Reply):
                        return outcome
                    reply = self.route(request)
                    if reply.status >= 300:
                        return reply  # refused anyway (bad auth or format)
                    return None if isinstance(outcome, _Drop) else outcome.reply
            elif request.method == "GET" and self._read_script:
                return self._read_script.popleft()
            return self.route(request)


__all__ = ["DROP", "Created", "FakeCiServer", "FakeRun", "Outcome", "RecordedRequest", "Reply"]
