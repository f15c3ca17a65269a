"""Property tests for the pure dedup decision and fingerprints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from routing.intake.alert import Alert, AlertStatus, Severity
from routing.intake.dedup import DecisionKind, DedupPolicy, EpisodeStatus, decide
from routing.intake.fingerprint import fingerprint_of

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
POLICY = DedupPolicy(reopen_window=timedelta(minutes=30), flap_flips=3)
label_dicts = st.dictionaries(st.text(min_size=1, max_size=12), st.text(max_size=20), max_size=8)


def alert(status: AlertStatus = AlertStatus.FIRING) -> Alert:
    return Alert("test", "fp", status, Severity.ERROR, "api", "t")


@given(label_dicts, st.randoms())
def test_label_order_never_changes_a_fingerprint(labels: dict[str, str], rnd) -> None:  # type: ignore[no-untyped-def]
    items = list(labels.items())
    rnd.shuffle(items)
    assert fingerprint_of("am", dict(items)) == fingerprint_of("am", labels)


@given(label_dicts, label_dicts)
def test_different_labels_give_different_fingerprints(a: dict[str, str], b: dict[str, str]) -> None:
    if a != b:
        assert fingerprint_of("am", a) != fingerprint_of("am", b)


@given(st.lists(st.integers(min_value=0, max_value=3600), min_size=1, max_size=50))
def test_repeats_never_open_a_second_episode(offsets: list[int]) -> None:
    state = None
    new_episodes = 0
    for offset in sorted(offsets):
        decision = decide(alert(), state, T0 + timedelta(seconds=offset), POLICY)
        new_episodes += decision.new_episode
        state = decision.state
    assert new_episodes == 1
    assert state is not None and state.occurrences == len(offsets)
    assert state.status is EpisodeStatus.FIRING


@given(st.integers(min_value=0, max_value=30 * 60), st.integers(min_value=1, max_value=7200))
def test_resolve_then_fire_within_window_reopens(gap: int, first: int) -> None:
    fired = decide(alert(), None, T0, POLICY)
    resolved = decide(
        alert(AlertStatus.RESOLVED), fired.state, T0 + timedelta(seconds=first), POLICY
    )
    assert resolved.kind is DecisionKind.RESOLVE
    again = decide(alert(), resolved.state, T0 + timedelta(seconds=first + gap), POLICY)
    assert again.kind is DecisionKind.REOPEN
    assert not again.new_episode


def test_fire_after_window_is_a_new_episode() -> None:
    fired = decide(alert(), None, T0, POLICY)
    resolved = decide(alert(AlertStatus.RESOLVED), fired.state, T0, POLICY)
    later = decide(alert(), resolved.state, T0 + timedelta(minutes=31), POLICY)
    assert later.kind is DecisionKind.NEW and later.new_episode


def test_flapping_after_three_flips_within_window() -> None:
    state = decide(alert(), None, T0, POLICY).state
    kinds = []
    flags = []
    for minute in range(1, 5):
        status = AlertStatus.RESOLVED if minute % 2 else AlertStatus.FIRING
        decision = decide(alert(status), state, T0 + timedelta(minutes=minute), POLICY)
        kinds.append(decision.kind)
        flags.append(decision.became_flapping)
        state = decision.state
    assert kinds == [DecisionKind.RESOLVE, DecisionKind.REOPEN] * 2
    assert state is not None and state.flapping
    assert flags.count(True) == 1


def test_resolve_of_unknown_alert_is_stale() -> None:
    decision = decide(alert(AlertStatus.RESOLVED), None, T0, POLICY)
    assert decision.kind is DecisionKind.STALE and decision.state is None


def test_threshold_fires_on_the_nth_occurrence_within_window() -> None:
    policy = DedupPolicy(threshold_count=5, threshold_window=timedelta(minutes=1))
    state = None
    kinds = []
    for second in range(0, 50, 10):
        decision = decide(alert(), state, T0 + timedelta(seconds=second), policy)
        kinds.append(decision.kind)
        state = decision.state
    assert kinds == [DecisionKind.PENDING] * 4 + [DecisionKind.NEW]


def test_threshold_window_restarts_when_too_slow() -> None:
    policy = DedupPolicy(threshold_count=3, threshold_window=timedelta(minutes=1))
    state = None
    for minute in range(6):  # one line every 2 minutes never reaches 3 per minute
        decision = decide(alert(), state, T0 + timedelta(minutes=2 * minute), policy)
        assert decision.kind is DecisionKind.PENDING
        state = decision.state


def test_last_seen_never_moves_backwards() -> None:
    state = decide(alert(), None, T0, POLICY).state
    repeat = decide(alert(), state, T0 - timedelta(minutes=5), POLICY)
    assert repeat.state is not None and repeat.state.last_seen == T0
