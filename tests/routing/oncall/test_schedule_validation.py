"""Schedule validation: invalid layers, time zones, overrides and naive instants are refused."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from pydantic import ValidationError

from routing.oncall.schedule import oncall_at
from tests.routing.oncall.schedule_support import EXAMPLE, _schedule


@pytest.mark.parametrize(
    ("layer", "error"),
    [
        ({"rotation": "weekly", "handoff": "09:00", "members": ["a"]}, "needs a weekday"),
        ({"rotation": "daily", "handoff": "mon 09:00", "members": ["a"]}, "takes no weekday"),
        ({"rotation": "hourly", "handoff": "01:30", "members": ["a"]}, "only minutes"),
        ({"rotation": "daily", "handoff": "9am", "members": ["a"]}, "invalid handoff"),
        ({"rotation": "daily", "handoff": "25:00", "members": ["a"]}, "invalid time"),
        ({"rotation": "custom", "members": ["a"]}, "`length` is required"),
        ({"rotation": "daily", "length": "2d", "members": ["a"]}, "not allowed otherwise"),
        (
            {"rotation": "custom", "length": "36h", "handoff": "mon 09:00", "members": ["a"]},
            "whole days",
        ),
        ({"rotation": "custom", "length": "0s", "members": ["a"]}, "must be positive"),
        ({"rotation": "monthly", "members": ["a"]}, "rotation"),
        ({"rotation": "daily", "members": []}, "at least 1 item"),
        ({"rotation": "daily", "members": ["a"], "restrict": ["weekends"]}, "invalid restriction"),
        (
            {"rotation": "daily", "members": ["a"], "restrict": ["sat-sun 09:00"]},
            "invalid restriction",
        ),
        (
            {"rotation": "daily", "members": ["a"], "restrict": ["funday 09:00-10:00"]},
            "unknown weekday",
        ),
        # Accepted and used nowhere before: a label for the reader is a YAML comment.
        ({"name": "weekdays", "rotation": "daily", "members": ["a"]}, "YAML comment"),
    ],
)
def test_layer_validation(layer: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        _schedule("UTC", layer)


def test_schedule_validation() -> None:
    with pytest.raises(ValidationError, match="unknown time zone"):
        _schedule("Europe/Atlantis", {"rotation": "daily", "members": ["a"]})
    with pytest.raises(ValidationError, match="end must be after start"):
        _schedule(
            "UTC",
            {"rotation": "daily", "members": ["a"]},
            overrides=[{"user": "a", "start": "2026-01-02", "end": "2026-01-01"}],
        )
    with pytest.raises(ValidationError, match="at least 1 item"):
        _schedule("UTC")
    with pytest.raises(ValueError, match="timezone-aware"):
        oncall_at(EXAMPLE, datetime(2026, 1, 1))
