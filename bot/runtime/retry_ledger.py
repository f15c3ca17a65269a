"""What makes a sender's retry harmless after a request timed out.

A webhook waits at most `intake.request_timeout` for its commit, then answers 503 with
Retry-After and the sender retries the same body. If the writer had not taken it yet, it
is withdrawn from the queue and never written: the retry is simply new. If the writer had
already taken it, it will be committed anyway (an *orphan*). The ledger remembers
orphans by (source, body digest) for `ttl`, so that the retry of one:

- while it is still being written, waits for that write instead of queuing a second;
- once it is written, gets that write's outcome (same inbox id) and writes nothing.

So within one process a timed-out submission is written exactly once. A retry that
reaches another replica is written again; alert dedup turns it into repeats (no new
incident, no second page), except that an Nginx line counts once more toward its
threshold. Only the ledger's own entries are hashed: while it is empty (no timeouts
lately), a submission costs nothing extra. All methods run under the intake queue's lock.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

from bot.runtime.intake_queue import Pending, State
from routing.intake.submission import Submission, SubmissionOutcome


def retry_key(submission: Submission) -> bytes | None:
    """Equal for a sender's retry of the same request; None for internal submissions."""
    if not submission.body:
        return None
    digest = hashlib.sha256(submission.source.encode())
    digest.update(b"\0")
    digest.update(submission.body)
    return digest.digest()


class RetryLedger:
    def __init__(self, ttl: float = 600.0, capacity: int = 1000) -> None:
        self.ttl = ttl
        self.capacity = capacity
        self._orphans: dict[bytes, Pending] = {}
        self._written: OrderedDict[bytes, tuple[float, SubmissionOutcome]] = OrderedDict()

    def __bool__(self) -> bool:
        return bool(self._orphans or self._written)

    def orphaned(self, pending: Pending) -> None:
        """`pending` was taken by the writer and its waiter gave up."""
        key = retry_key(pending.submission)
        if key is not None:
            pending.key = key
            self._orphans[key] = pending

    def settled(self, pending: Pending, now: float, delivered: bool) -> None:
        """An orphan was committed (`pending.result`) or failed (`pending.error`);
        `delivered`: a retry following it got the answer, so none is expected again."""
        if pending.key is None or self._orphans.get(pending.key) is not pending:
            return
        del self._orphans[pending.key]
        if pending.result is not None and not delivered:
            self._written[pending.key] = (now + self.ttl, pending.result)
            while len(self._written) > self.capacity:
                self._written.popitem(last=False)

    def match(self, submission: Submission, now: float) -> SubmissionOutcome | Pending | None:
        """For a new submission: the outcome of its already written twin (used once), the
        orphan still being written that it should follow, or None (queue it)."""
        self._expire(now)
        key = retry_key(submission)
        if key is None:
            return None
        if key in self._written:
            _, outcome = self._written.pop(key)
            return outcome
        orphan = self._orphans.get(key)
        if orphan is not None and orphan.state is State.ORPHANED:
            return orphan
        return None

    def _expire(self, now: float) -> None:
        while self._written:
            key, (expires, _) = next(iter(self._written.items()))
            if expires > now:
                break
            del self._written[key]
