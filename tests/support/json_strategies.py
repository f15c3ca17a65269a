"""Hypothesis strategies for JSON a far side might answer, shared by the answer fuzzers."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

# Scalars every parser must survive: huge ints, floats, odd text.
BASE_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
)


def json_values(keys: st.SearchStrategy[str], *samples: str) -> st.SearchStrategy[Any]:
    """Any JSON value, objects keyed mostly by `keys` (the ones the parsers read), scalars
    including `samples` (values the parsers treat specially)."""
    scalars = BASE_SCALARS | st.sampled_from(samples) if samples else BASE_SCALARS
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(keys | st.text(max_size=5), inner, max_size=6)
        ),
        max_leaves=30,
    )
