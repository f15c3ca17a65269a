"""The threshold's sliding window, pure: the decision against a brute-force count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from routing.intake.alert import Alert, AlertStatus, Severity
from routing.intake.dedup import DecisionKind, DedupPolicy, EpisodeState, decide
from routing.intake.threshold_window import count_time, decode, encode, slide

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(seconds=60)


def line(at: datetime | None) -> Alert:
    return Alert("nginx", "fp", AlertStatus.FIRING, Severity.ERROR, "api", "t", starts_at=at)


def policy(count: int, *, reported: bool) -> DedupPolicy:
    return DedupPolicy(
        threshold_count=count, threshold_window=WINDOW, count_at_reported_time=reported
    )


def kinds(times: list[datetime], count: int, *, reported: bool) -> list[DecisionKind]:
    """Each line at `times` (its own time if `reported`, else its arrival time)."""
    state: EpisodeState | None = None
    out = []
    for at in times:
        now = T0 + timedelta(hours=1) if reported else at
        decision = decide(
            line(at if reported else None), state, now, policy(count, reported=reported)
        )
        out.append(decision.kind)
        state = decision.state
    return out


def seconds(*offsets: float) -> list[datetime]:
    return [T0 + timedelta(seconds=s) for s in offsets]


def test_a_burst_across_a_minute_boundary_fires() -> None:
    burst = seconds(58, 58.5, 59, 60, 60.5, 61)  # 3 at 0:58-0:59, 3 at 1:00-1:01
    assert kinds(burst, 5, reported=False)[4] is DecisionKind.NEW


def test_a_lone_line_before_a_burst_does_not_hide_it() -> None:
    # The fixed window started at 0:00 and restarted at 1:00.5 with a count of 1, so
    # 3 + 3 lines within 4 seconds never fired; sliding, the fifth line in 60 s fires.
    lines = seconds(0, 58, 58.5, 59, 60.5, 61, 61.5)
    assert kinds(lines, 5, reported=False)[:6] == [DecisionKind.PENDING] * 5 + [DecisionKind.NEW]


def test_lines_count_at_their_own_time_when_the_policy_says_so() -> None:
    spread = seconds(0, 30, 60, 90, 120, 150)  # a shipper's batch: never 5 within 60 s
    assert DecisionKind.NEW not in kinds(spread, 5, reported=True)
    burst = seconds(0, 1, 2, 3, 4)
    assert kinds(burst, 5, reported=True)[-1] is DecisionKind.NEW


def test_a_line_from_the_future_counts_on_arrival() -> None:
    assert count_time(T0 + timedelta(hours=2), T0, None) == T0  # wrong zone or skewed clock
    assert count_time(None, T0, None) == T0
    assert count_time(T0 - timedelta(seconds=5), T0, T0) == T0  # never before the newest


def test_the_window_holds_at_most_count_minus_one_times() -> None:
    state: EpisodeState | None = None
    for offset in range(500):  # one line every 11 s: at most 6 in any 60 s
        decision = decide(
            line(None), state, T0 + timedelta(seconds=11 * offset), policy(7, reported=False)
        )
        assert decision.kind is DecisionKind.PENDING
        state = decision.state
        assert state is not None and len(state.window) <= 6


arrivals = st.lists(
    st.tuples(
        st.one_of(st.none(), st.integers(min_value=-300_000, max_value=300_000)),  # line time, ms
        st.integers(min_value=0, max_value=120_000),  # gap to the previous arrival, ms
    ),
    min_size=1,
    max_size=60,
)


@given(arrivals, st.integers(min_value=2, max_value=8))
def test_the_decision_fires_where_a_brute_force_count_reaches_the_threshold(
    lines: list[tuple[int | None, int]], count: int
) -> None:
    pol = policy(count, reported=True)
    state: EpisodeState | None = None
    now = T0
    counted: list[datetime] = []  # every line's counting time, never forgotten
    for reported_ms, gap_ms in lines:
        now += timedelta(milliseconds=gap_ms)
        reported = None if reported_ms is None else now + timedelta(milliseconds=reported_ms)
        decision = decide(line(reported), state, now, pol)
        at = count_time(reported, now, counted[-1] if counted else None)
        counted.append(at)
        in_window = sum(1 for t in counted if at - WINDOW <= t <= at)
        if in_window >= count:
            assert decision.kind is DecisionKind.NEW
            return
        assert decision.kind is DecisionKind.PENDING
        assert decision.state is not None
        assert len(decision.state.window) == in_window
        state = decision.state


@given(
    st.lists(st.integers(min_value=0, max_value=10**7), max_size=40),
    st.integers(min_value=1, max_value=10**7),
)
def test_slide_keeps_exactly_the_times_within_the_window(steps: list[int], window_ms: int) -> None:
    window = timedelta(milliseconds=window_ms)
    times = []
    kept: tuple[datetime, ...] = ()
    at = T0
    for step in steps:
        at += timedelta(milliseconds=step)
        times.append(at)
        kept = slide(kept, at, window)
        assert list(kept) == [t for t in times if at - window <= t <= at]


@given(st.lists(st.datetimes(timezones=st.just(UTC)), max_size=20))
def test_stored_times_read_back_exactly(stamps: list[datetime]) -> None:
    assert decode(encode(stamps)) == tuple(stamps)
    assert decode("") == ()
