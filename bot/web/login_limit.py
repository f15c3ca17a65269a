"""Guessing tokens at the login form: after FAILURES wrong tokens from one address within
WINDOW, that address is refused (429) until the oldest of them is WINDOW old, even with a
right token, so a guesser learns nothing from a success either. A success does not reset
the count: whoever holds one token could otherwise keep guessing the others.

Per process and in memory: replicas each count on their own (an attacker spread over N
replicas gets N times the budget, still far too few for a personal token). The key is the
TCP peer, so behind a proxy everyone shares its budget; that is why the budget is generous.
The clock is passed in.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

FAILURES = 20
WINDOW = timedelta(minutes=10)
MAX_ADDRESSES = 10_000  # memory bound: the oldest address is forgotten first


class LoginLimit:
    def __init__(
        self,
        failures: int = FAILURES,
        window: timedelta = WINDOW,
        max_addresses: int = MAX_ADDRESSES,
    ) -> None:
        self.failures = failures
        self.window = window
        self.max_addresses = max_addresses
        self._seen: dict[str, deque[datetime]] = {}

    def _recent(self, address: str, now: datetime) -> deque[datetime] | None:
        times = self._seen.get(address)
        if times is None:
            return None
        while times and now - times[0] >= self.window:
            times.popleft()
        if not times:
            del self._seen[address]
            return None
        return times

    def wait(self, address: str, now: datetime) -> timedelta | None:
        """How long `address` must wait before trying again, or None (it may try)."""
        times = self._recent(address, now)
        if times is None or len(times) < self.failures:
            return None
        return times[0] + self.window - now

    def failed(self, address: str, now: datetime) -> None:
        times = self._recent(address, now)
        if times is None:
            if len(self._seen) >= self.max_addresses:
                del self._seen[next(iter(self._seen))]
            times = self._seen[address] = deque(maxlen=self.failures)
        times.append(now)
