"""Pure dedup decision: what one incoming alert does to the current episode of its fingerprint.

The shell (routing/ingest.py) loads the current episode's `EpisodeState`, calls
`decide`, and writes back the state it returns. Nothing here does I/O or reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from routing.intake.alert import Alert, AlertStatus


class DecisionKind(StrEnum):
    NEW = "new"  # a new episode that fires (and is announced)
    PENDING = "pending"  # counted towards a threshold, not firing yet
    REPEAT = "repeat"  # same open episode again: bump counters, announce nothing
    RESOLVE = "resolve"  # the open episode resolves
    REOPEN = "reopen"  # fired again within reopen_window of resolving: same episode
    STALE = "stale"  # a resolve for nothing open: recorded, no effect


class EpisodeStatus(StrEnum):
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class DedupPolicy:
    reopen_window: timedelta = timedelta(minutes=30)
    flap_flips: int = 3
    # Fire only once `threshold_count` occurrences arrive within `threshold_window`
    # (Nginx lines); 1 means fire at once.
    threshold_count: int = 1
    threshold_window: timedelta = timedelta(minutes=1)


class EpisodeState(NamedTuple):
    """The dedup-relevant state of one alert episode (one row of the alert table).
    A named tuple: as immutable as a frozen dataclass, and several times cheaper to build
    on a storm's hot path (one or two per alert)."""

    status: EpisodeStatus
    first_seen: datetime
    last_seen: datetime
    occurrences: int = 1
    resolved_at: datetime | None = None
    flips: int = 0
    flip_window_start: datetime | None = None
    flapping: bool = False
    window_start: datetime | None = None  # threshold counting window (pending episodes)
    window_count: int = 0


class Decision(NamedTuple):
    kind: DecisionKind
    state: EpisodeState | None  # None only for STALE with no prior episode
    new_episode: bool = False  # True when a new alert row must be created
    became_flapping: bool = False


def decide(
    alert: Alert, prior: EpisodeState | None, now: datetime, policy: DedupPolicy
) -> Decision:
    """Decide what `alert` does to the current episode `prior` of its fingerprint at `now`."""
    if alert.status is AlertStatus.RESOLVED:
        return _decide_resolved(prior, now)
    if prior is None:
        return _start_episode(now, policy)
    if prior.status is EpisodeStatus.FIRING:
        return Decision(DecisionKind.REPEAT, _seen(prior, now))
    if prior.status is EpisodeStatus.PENDING:
        return _count_pending(prior, now, policy)
    # Resolved: reopen within the window (flap control), else a new episode.
    assert prior.resolved_at is not None
    if now - prior.resolved_at <= policy.reopen_window:
        flips, window_start = _flip(prior, now, policy)
        flapping = prior.flapping or flips >= policy.flap_flips
        state = _seen(prior, now)._replace(
            status=EpisodeStatus.FIRING,
            resolved_at=None,
            flips=flips,
            flip_window_start=window_start,
            flapping=flapping,
        )
        return Decision(DecisionKind.REOPEN, state, became_flapping=flapping and not prior.flapping)
    return _start_episode(now, policy)


def _decide_resolved(prior: EpisodeState | None, now: datetime) -> Decision:
    if prior is None or prior.status is not EpisodeStatus.FIRING:
        # Nothing firing to resolve (unknown, pending below threshold, or already resolved).
        return Decision(DecisionKind.STALE, prior)
    flips, window_start = (prior.flips + 1, prior.flip_window_start or now)
    state = prior._replace(
        status=EpisodeStatus.RESOLVED,
        resolved_at=now,
        last_seen=now,
        flips=flips,
        flip_window_start=window_start,
    )
    return Decision(DecisionKind.RESOLVE, state)


def _start_episode(now: datetime, policy: DedupPolicy) -> Decision:
    if policy.threshold_count > 1:
        state = EpisodeState(
            status=EpisodeStatus.PENDING,
            first_seen=now,
            last_seen=now,
            window_start=now,
            window_count=1,
        )
        return Decision(DecisionKind.PENDING, state, new_episode=True)
    state = EpisodeState(status=EpisodeStatus.FIRING, first_seen=now, last_seen=now)
    return Decision(DecisionKind.NEW, state, new_episode=True)


def _count_pending(prior: EpisodeState, now: datetime, policy: DedupPolicy) -> Decision:
    start = prior.window_start or prior.first_seen
    if now - start > policy.threshold_window:
        start, count = now, 1  # the old window ran out below the threshold
    else:
        count = prior.window_count + 1
    seen = _seen(prior, now)._replace(window_start=start, window_count=count)
    if count >= policy.threshold_count:
        return Decision(DecisionKind.NEW, seen._replace(status=EpisodeStatus.FIRING))
    return Decision(DecisionKind.PENDING, seen)


def _seen(prior: EpisodeState, now: datetime) -> EpisodeState:
    # The hot path of an alert storm: built directly, as _replace is slower.
    return EpisodeState(
        prior.status,
        prior.first_seen,
        # Out-of-order deliveries must not move last_seen backwards.
        prior.last_seen if prior.last_seen > now else now,
        prior.occurrences + 1,
        prior.resolved_at,
        prior.flips,
        prior.flip_window_start,
        prior.flapping,
        prior.window_start,
        prior.window_count,
    )


def _flip(prior: EpisodeState, now: datetime, policy: DedupPolicy) -> tuple[int, datetime]:
    start = prior.flip_window_start
    if start is None or now - start > policy.reopen_window:
        # Count the resolve that preceded this reopen as the window's first flip.
        return 2, prior.resolved_at or now
    return prior.flips + 1, start


def quiet_since(state: EpisodeState, now: datetime, quiet: timedelta) -> bool:
    """True when a firing episode has had no occurrence for `quiet` (Nginx resolve_after)."""
    return state.status is EpisodeStatus.FIRING and now - state.last_seen >= quiet
