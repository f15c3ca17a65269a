"""The pure flapping decision: the reopen that flags an alert, the reopens while it stays
flagged (recorded, not paged), and the flag lifting after `flap_quiet` without a flip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from routing.intake.alert import Alert, AlertStatus, Severity
from routing.intake.dedup import (
    Decision,
    DecisionKind,
    DedupPolicy,
    EpisodeState,
    decide,
    still_flapping,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
POLICY = DedupPolicy(
    reopen_window=timedelta(hours=1), flap_flips=3, flap_quiet=timedelta(minutes=10)
)
FIRING = Alert("test", "fp", AlertStatus.FIRING, Severity.ERROR, "api", "t")
RESOLVED = Alert("test", "fp", AlertStatus.RESOLVED, Severity.ERROR, "api", "t")


def flips(state: EpisodeState | None, minutes: list[int]) -> list[Decision]:
    """Alternate firing and resolved at T0 + each minute, starting with firing."""
    out = []
    for index, minute in enumerate(minutes):
        decision = decide(
            RESOLVED if index % 2 else FIRING, state, T0 + timedelta(minutes=minute), POLICY
        )
        state = decision.state
        out.append(decision)
    return out


def test_the_second_reopen_flags_it_and_later_ones_are_held() -> None:
    made = flips(None, [0, 1, 2, 3, 4, 5, 6])
    reopens = [d for d in made if d.kind is DecisionKind.REOPEN]
    assert [(d.became_flapping, d.reopened_flapping) for d in reopens] == [
        (False, False),
        (True, False),  # pages, saying it is flapping
        (False, True),  # recorded, not paged
    ]
    last = made[-1].state
    assert last is not None and last.flapping_until == T0 + timedelta(minutes=16)


def test_the_flag_lifts_after_flap_quiet_without_a_flip() -> None:
    made = flips(None, [0, 1, 2, 3, 4])  # flagged at minute 4
    state = made[-1].state
    assert state is not None and still_flapping(state, T0 + timedelta(minutes=13))
    assert not still_flapping(state, T0 + timedelta(minutes=14))
    # Quiet for 10 minutes, then resolve and fire: an ordinary reopen that pages.
    resolved = decide(RESOLVED, state, T0 + timedelta(minutes=15), POLICY)
    assert resolved.state is not None and not resolved.state.flapping
    reopened = decide(FIRING, resolved.state, T0 + timedelta(minutes=16), POLICY)
    assert (reopened.kind, reopened.reopened_flapping, reopened.became_flapping) == (
        DecisionKind.REOPEN, False, False,
    )  # fmt: skip


@given(st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=30))
def test_a_held_reopen_always_comes_within_flap_quiet_of_a_flip(gaps: list[int]) -> None:
    """Whatever the rhythm: a reopen is held only while the alert is flagged, i.e. within
    flap_quiet of its previous flip, and a flagged state always says until when."""
    state: EpisodeState | None = None
    at = T0
    previous_flip: datetime | None = None
    for index, gap in enumerate(gaps):
        at += timedelta(minutes=gap)
        decision = decide(RESOLVED if index % 2 else FIRING, state, at, POLICY)
        if decision.reopened_flapping:
            assert previous_flip is not None and at - previous_flip < POLICY.flap_quiet
        if decision.kind in (DecisionKind.REOPEN, DecisionKind.RESOLVE):
            previous_flip = at
        state = decision.state
        if state is not None and state.flapping:
            assert state.flapping_until is not None
