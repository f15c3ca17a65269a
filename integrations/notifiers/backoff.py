"""When to retry a failed delivery: capped exponential backoff, the one retry policy."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

DEFAULT_BASE = timedelta(seconds=5)
DEFAULT_CAP = timedelta(minutes=10)
DEFAULT_MAX_ATTEMPTS = 8

# 2**64 times any sane base is far beyond any cap; clamping keeps the float finite.
_MAX_EXPONENT = 64


def delay_for(
    attempt: int, base: timedelta = DEFAULT_BASE, cap: timedelta = DEFAULT_CAP
) -> timedelta:
    """base * 2**(attempt-1), at most `cap`. `attempt` counts failures so far (>= 1)."""
    if attempt < 1:
        raise ValueError(f"attempt: must be at least 1, got {attempt}")
    if base <= timedelta(0):
        raise ValueError(f"base: must be positive, got {base}")
    if cap < base:
        raise ValueError(f"cap: must be at least base ({base}), got {cap}")
    seconds = base.total_seconds() * 2.0 ** min(attempt - 1, _MAX_EXPONENT)
    # Compare as floats first: timedelta(seconds=2**64 * 5) would overflow.
    return cap if seconds >= cap.total_seconds() else timedelta(seconds=seconds)


def next_attempt_at(
    attempt: int,
    now: datetime,
    base: timedelta = DEFAULT_BASE,
    cap: timedelta = DEFAULT_CAP,
    jitter_ratio: float = 0.0,
    rng: random.Random | None = None,
    retry_after: timedelta | None = None,
) -> datetime:
    """When to try again after `attempt` failed deliveries.

    Jitter only shortens the wait (by up to `jitter_ratio` of it) so the cap stays a
    true cap; it spreads retries of many rows that failed together (a Slack outage).
    `rng` must be given with jitter, which keeps this function deterministic in tests.
    A far side's `retry_after` (HTTP 429) is a floor: retrying earlier is refused anyway.
    """
    if not 0.0 <= jitter_ratio <= 1.0:
        raise ValueError(f"jitter_ratio: must be between 0 and 1, got {jitter_ratio}")
    delay = delay_for(attempt, base, cap)
    if jitter_ratio:
        if rng is None:
            raise ValueError("rng: required when jitter_ratio is set")
        delay -= delay * (jitter_ratio * rng.random())
    if retry_after is not None and retry_after > delay:
        delay = retry_after
    return now + delay


def should_give_up(attempt: int, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> bool:
    """True once `attempt` failed deliveries used up the budget; the row becomes permanent."""
    if max_attempts < 1:
        raise ValueError(f"max_attempts: must be at least 1, got {max_attempts}")
    return attempt >= max_attempts
