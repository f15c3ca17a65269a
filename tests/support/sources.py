"""Shared by the webhook source tests: the PayloadError a body raises, and label orderings."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from hypothesis import strategies as st

from integrations.sources import PayloadError, Source, SourceOptions


def payload_error(
    source: Source,
    raw: bytes,
    headers: Mapping[str, str] | None = None,
    options: SourceOptions | None = None,
) -> PayloadError:
    """The PayloadError `source` raises for `raw`; the test fails if it parses."""
    with pytest.raises(PayloadError) as caught:
        source.parse(raw, dict(headers or {}), options or SourceOptions())
    return caught.value


def label_orderings(
    labels: st.SearchStrategy[dict[str, str]],
) -> st.SearchStrategy[tuple[dict[str, str], dict[str, str]]]:
    """A label set, and the same labels in another order (fingerprints must not see order)."""
    return labels.flatmap(
        lambda drawn: st.permutations(list(drawn.items())).map(lambda items: (drawn, dict(items)))
    )
