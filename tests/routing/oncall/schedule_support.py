"""Shared by the schedule tests: building schedules, UTC instants, and who is on call."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from routing.oncall.schedule import Schedule, oncall_at


def _schedule(
    time_zone: str, *layers: dict[str, Any], overrides: list[dict[str, Any]] | None = None
) -> Schedule:
    return Schedule.model_validate(
        {"name": "s", "time_zone": time_zone, "layers": list(layers), "overrides": overrides or []}
    )


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def _who(
    schedule: Schedule, year: int, month: int, day: int, hour: int = 0, minute: int = 0
) -> list[str]:
    return oncall_at(schedule, _utc(year, month, day, hour, minute))


EXAMPLE = _schedule(
    "Europe/Madrid",
    {"rotation": "weekly", "handoff": "mon 09:00", "members": ["alice", "bob"]},
    {
        "rotation": "daily",
        "handoff": "09:00",
        "members": ["carol"],
        "restrict": ["sat-sun 09:00-21:00"],
    },
    overrides=[{"user": "carol", "start": "2026-12-24T18:00", "end": "2026-12-26T09:00"}],
)
