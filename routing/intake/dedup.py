"""Pure dedup decision: what one incoming alert does to the current episode of its fingerprint.

The shell (routing/intake/ingest.py) loads the current episode's `EpisodeState`, calls
`decide`, and writes back the state it returns. Nothing here does I/O or reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from routing.intake.alert import Alert, AlertStatus
from routing.intake.threshold_window import count_time, slide


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
    # A flapping alert stays flagged until it has not flipped for this long.
    flap_quiet: timedelta = timedelta(minutes=30)
    # Fire only once `threshold_count` occurrences arrive within `threshold_window`, a
    # sliding window (Nginx lines); 1 means fire at once.
    threshold_count: int = 1
    threshold_window: timedelta = timedelta(minutes=1)
    # Count each occurrence at the time it reports (`starts_at`: an nginx line's own
    # time) rather than on arrival, so a shipper's batch of old lines is no burst.
    count_at_reported_time: bool = False


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
    # Threshold: the times of the recent occurrences of a pending episode (oldest first).
    window: tuple[datetime, ...] = ()
    # While flagged flapping: when the flag lifts unless the alert flips again.
    flapping_until: datetime | None = None


class Decision(NamedTuple):
    kind: DecisionKind
    state: EpisodeState | None  # None only for STALE with no prior episode
    new_episode: bool = False  # True when a new alert row must be created
    became_flapping: bool = False
    # A reopen of an alert already flagged flapping: recorded, not paged again.
    reopened_flapping: bool = False


def decide(
    alert: Alert,
    prior: EpisodeState | None,
    now: datetime,
    policy: DedupPolicy,
    quiet_before: datetime | None = None,
) -> Decision:
    """Decide what `alert` does to the current episode `prior` of its fingerprint at `now`.
    `quiet_before` marks a resolve that holds only if the episode was last seen before
    then (the Nginx quiet period, checked against the row as locked, not as once read)."""
    if alert.status is AlertStatus.RESOLVED:
        if quiet_before is not None and prior is not None and not is_quiet(prior, quiet_before):
            return Decision(DecisionKind.STALE, prior)  # a new line came: still firing
        return _decide_resolved(prior, now, policy)
    if prior is None:
        return _start_episode(alert, now, policy)
    if prior.status is EpisodeStatus.FIRING:
        return Decision(DecisionKind.REPEAT, _seen(prior, now))
    if prior.status is EpisodeStatus.PENDING:
        return _count_pending(alert, prior, now, policy)
    # Resolved: reopen within the window (flap control), else a new episode.
    assert prior.resolved_at is not None
    if now - prior.resolved_at <= policy.reopen_window:
        was_flapping = still_flapping(prior, now)
        flips, window_start = _flip(prior, now, policy)
        if prior.flapping and not was_flapping:
            # Quiet for flap_quiet: the flag lifted, count flips afresh.
            flips, window_start = 2, prior.resolved_at
        flapping = was_flapping or flips >= policy.flap_flips
        state = _seen(prior, now)._replace(
            status=EpisodeStatus.FIRING,
            resolved_at=None,
            flips=flips,
            flip_window_start=window_start,
            flapping=flapping,
            flapping_until=now + policy.flap_quiet if flapping else None,
        )
        return Decision(
            DecisionKind.REOPEN,
            state,
            became_flapping=flapping and not was_flapping,
            reopened_flapping=was_flapping,
        )
    return _start_episode(alert, now, policy)


def still_flapping(state: EpisodeState, now: datetime) -> bool:
    """Whether the flapping flag holds at `now`: set, and not yet quiet for flap_quiet."""
    return flag_holds(state.flapping, state.flapping_until, now)


def flag_holds(flapping: bool, until: datetime | None, now: datetime) -> bool:
    """A stored flapping flag (alert.flapping, alert.flapping_until) read at `now`: the
    flag stays stored until the next flip, but lifts at `until`."""
    return flapping and (until is None or now < until)


def _decide_resolved(prior: EpisodeState | None, now: datetime, policy: DedupPolicy) -> Decision:
    if prior is None or prior.status is not EpisodeStatus.FIRING:
        # Nothing firing to resolve (unknown, pending below threshold, or already resolved).
        return Decision(DecisionKind.STALE, prior)
    flapping = still_flapping(prior, now)
    if prior.flapping and not flapping:
        flips, window_start = 1, now  # quiet long enough: this resolve starts a new count
    else:
        flips, window_start = (prior.flips + 1, prior.flip_window_start or now)
    state = prior._replace(
        status=EpisodeStatus.RESOLVED,
        resolved_at=now,
        last_seen=now,
        flips=flips,
        flip_window_start=window_start,
        flapping=flapping,
        # A flip of a flapping alert restarts its quiet period.
        flapping_until=now + policy.flap_quiet if flapping else None,
    )
    return Decision(DecisionKind.RESOLVE, state)


def _start_episode(alert: Alert, now: datetime, policy: DedupPolicy) -> Decision:
    if policy.threshold_count > 1:
        at = count_time(_reported_time(alert, policy), now, None)
        state = EpisodeState(
            status=EpisodeStatus.PENDING, first_seen=now, last_seen=now, window=(at,)
        )
        return Decision(DecisionKind.PENDING, state, new_episode=True)
    state = EpisodeState(status=EpisodeStatus.FIRING, first_seen=now, last_seen=now)
    return Decision(DecisionKind.NEW, state, new_episode=True)


def _count_pending(
    alert: Alert, prior: EpisodeState, now: datetime, policy: DedupPolicy
) -> Decision:
    newest = prior.window[-1] if prior.window else None
    at = count_time(_reported_time(alert, policy), now, newest)
    window = slide(prior.window, at, policy.threshold_window)
    if len(window) >= policy.threshold_count:
        fired = _seen(prior, now)._replace(status=EpisodeStatus.FIRING, window=())
        return Decision(DecisionKind.NEW, fired)
    return Decision(DecisionKind.PENDING, _seen(prior, now)._replace(window=window))


def _reported_time(alert: Alert, policy: DedupPolicy) -> datetime | None:
    return alert.starts_at if policy.count_at_reported_time else None


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
        prior.window,
        prior.flapping_until,
    )


def _flip(prior: EpisodeState, now: datetime, policy: DedupPolicy) -> tuple[int, datetime]:
    start = prior.flip_window_start
    if start is None or now - start > policy.reopen_window:
        # Count the resolve that preceded this reopen as the window's first flip.
        return 2, prior.resolved_at or now
    return prior.flips + 1, start


def is_quiet(state: EpisodeState, quiet_before: datetime) -> bool:
    """True when a firing episode has had no occurrence since `quiet_before` (the Nginx
    quiet period: now - resolve_after)."""
    return state.status is EpisodeStatus.FIRING and state.last_seen < quiet_before
