"""OpenIncidents (the indexed form) must choose exactly what choose_incident (the plain,
readable rule) chooses, whatever incidents are open and however they came and went."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from routing.intake.grouping import GroupKey, OpenIncidents, choose_incident

NAMES = ["service", "alertname", "cluster"]
keys = st.builds(
    lambda picked: GroupKey(tuple((n, v) for n, v in zip(NAMES, picked, strict=True) if v)),
    st.tuples(*[st.sampled_from(["", "a", "b"]) for _ in NAMES]),
)
# Each step opens an incident with a key, or resolves the n-th open one.
steps = st.lists(st.one_of(keys, st.integers(min_value=0, max_value=20)), max_size=25)


@settings(max_examples=300, deadline=None)
@given(steps=steps, asked=st.lists(keys, min_size=1, max_size=6))
def test_the_index_chooses_what_the_plain_rule_chooses(
    steps: list[GroupKey | int], asked: list[GroupKey]
) -> None:
    index = OpenIncidents()
    plain: list[tuple[int, GroupKey]] = []
    next_id = 1
    for step in steps:
        if isinstance(step, GroupKey):
            index.add(next_id, step)
            plain.append((next_id, step))
            next_id += 1
        elif plain:
            gone, _ = plain.pop(step % len(plain))
            index.remove(gone)
        for key in asked:  # asking between changes exercises the cached tables
            assert index.choose(key) == choose_incident(key, plain)


def test_exact_match_wins_over_an_older_compatible_incident() -> None:
    partial = GroupKey((("service", "api"),))
    full = GroupKey((("service", "api"), ("alertname", "Disk")))
    index = OpenIncidents([(1, partial), (2, full)])
    assert index.choose(full) == 2
    assert index.choose(GroupKey((("service", "api"), ("alertname", "Cpu")))) == 1
    index.remove(1)
    assert index.choose(GroupKey((("service", "api"), ("alertname", "Cpu")))) is None
    assert 2 in index and 1 not in index
