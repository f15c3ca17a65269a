"""The readiness decision over heartbeats is pure: dead beats stalled beats well."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.runtime.heartbeats import Beat, Heartbeats, unready_parts


def test_a_part_is_well_until_its_heartbeat_is_older_than_stall_after() -> None:
    beat = Beat("intake writer", last=100.0, alive=True)
    assert unready_parts([beat], now=110.0, stall_after=10) == {}
    assert unready_parts([beat], now=110.5, stall_after=10) == {
        "intake writer": "stalled: no heartbeat for 10.5s"
    }


def test_a_dead_part_is_dead_however_fresh_its_last_heartbeat() -> None:
    beats = [Beat("paging worker", 100.0, alive=False), Beat("syslog listener", 100.0, True)]
    assert unready_parts(beats, now=100.0, stall_after=10) == {"paging worker": "dead"}


def test_only_registered_parts_are_judged_and_a_stopped_one_is_forgotten() -> None:
    heartbeats = Heartbeats()
    writer = heartbeats.register("intake writer")
    heartbeats.register("paging worker", alive=lambda: False)
    assert {b.name for b in heartbeats.snapshot()} == {"intake writer", "paging worker"}
    heartbeats.unregister(writer)
    (left,) = heartbeats.snapshot()
    assert left.name == "paging worker" and not left.alive


@given(
    last=st.floats(0, 1e6),
    age=st.floats(0, 1e3),
    stall_after=st.floats(0.001, 1e3),
    alive=st.booleans(),
)
def test_the_verdict_depends_only_on_life_and_age(
    last: float, age: float, stall_after: float, alive: bool
) -> None:
    now = last + age
    verdict = unready_parts([Beat("part", last, alive)], now, stall_after)
    if not alive:
        assert verdict == {"part": "dead"}
    elif now - last > stall_after:
        assert verdict["part"].startswith("stalled")
    else:
        assert verdict == {}
