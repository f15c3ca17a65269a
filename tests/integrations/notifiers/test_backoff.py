"""Backoff: exponential from base, monotonic, capped; jitter only shortens; 429 waits are floors."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integrations.notifiers.backoff import delay_for, next_attempt_at, should_give_up

NOW = datetime(2024, 5, 1, 3, 0, tzinfo=UTC)
bases = st.integers(min_value=1, max_value=600).map(lambda s: timedelta(seconds=s))
attempts = st.integers(min_value=1, max_value=10_000)


def test_documented_schedule() -> None:
    waits = [next_attempt_at(a, NOW) - NOW for a in range(1, 10)]
    assert [w.total_seconds() for w in waits] == [5, 10, 20, 40, 80, 160, 320, 600, 600]


@given(attempt=attempts, base=bases, extra=st.integers(min_value=0, max_value=86_400))
def test_monotonic_up_to_cap(attempt: int, base: timedelta, extra: int) -> None:
    cap = base + timedelta(seconds=extra)
    this, following = delay_for(attempt, base, cap), delay_for(attempt + 1, base, cap)
    assert base <= this <= following <= cap
    # Doubling until the cap: either it doubled or it hit the cap.
    assert following == min(this * 2, cap)


@given(attempt=attempts, seed=st.integers(), ratio=st.floats(min_value=0.0, max_value=1.0))
def test_jitter_only_shortens(attempt: int, seed: int, ratio: float) -> None:
    plain = next_attempt_at(attempt, NOW)
    jittered = next_attempt_at(attempt, NOW, jitter_ratio=ratio, rng=random.Random(seed))
    floor = NOW + (plain - NOW) * (1 - ratio)
    assert floor - timedelta(microseconds=1) <= jittered <= plain
    # Same seed, same answer: the function stays deterministic.
    again = next_attempt_at(attempt, NOW, jitter_ratio=ratio, rng=random.Random(seed))
    assert again == jittered


def test_retry_after_is_a_floor() -> None:
    assert next_attempt_at(1, NOW, retry_after=timedelta(seconds=64.5)) == NOW + timedelta(
        seconds=64.5
    )
    assert next_attempt_at(3, NOW, retry_after=timedelta(seconds=1)) == NOW + timedelta(seconds=20)


def test_give_up_after_budget() -> None:
    assert [should_give_up(a) for a in (1, 7, 8, 9)] == [False, False, True, True]
    assert should_give_up(1, max_attempts=1)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: delay_for(0), "attempt"),
        (lambda: delay_for(1, base=timedelta(0)), "base"),
        (lambda: delay_for(1, cap=timedelta(seconds=1)), "cap"),
        (lambda: next_attempt_at(1, NOW, jitter_ratio=0.5), "rng"),
        (lambda: next_attempt_at(1, NOW, jitter_ratio=2), "jitter_ratio"),
        (lambda: should_give_up(1, max_attempts=0), "max_attempts"),
    ],
)
def test_bad_arguments_name_the_field(call: object, field: str) -> None:
    with pytest.raises(ValueError, match=rf"^{field}:"):
        call()  # type: ignore[operator]
