"""Who is on call, until when, and who next, per schedule, with overrides marked: the web
page's on-call board. The same decisions as `GET /api/v1/oncall` (oncall_at and
next_handoffs); pure, the instant is an argument."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from routing.oncall.schedule import Schedule, next_handoffs, oncall_at


@dataclass(frozen=True, slots=True)
class Turn:
    """From `at` on, `user` is on call (None: nobody); `override` when an override puts
    them there rather than a rotation."""

    at: datetime
    user: str | None
    override: bool


@dataclass(frozen=True, slots=True)
class ScheduleBoard:
    schedule: str
    time_zone: ZoneInfo
    oncall: list[str]
    override: bool  # the person on call now is there by an override
    until: datetime | None  # the next change of who is on call (None: none within a year)
    next: list[Turn]


def override_at(schedule: Schedule, instant: datetime) -> bool:
    """Whether an override decides who is on call at `instant` (as oncall_at reads them)."""
    return any(start <= instant < end for start, end, _ in schedule.override_windows)


def oncall_board(schedules: Sequence[Schedule], at: datetime, handoffs: int) -> list[ScheduleBoard]:
    """For each schedule: on call at `at` (aware), until when, and the next `handoffs`."""
    boards = []
    for schedule in schedules:
        # One change more than shown at least: "until" is the first of them.
        shifts = next_handoffs(schedule, at, max(handoffs, 1))
        boards.append(
            ScheduleBoard(
                schedule=schedule.name,
                time_zone=schedule.time_zone,
                oncall=oncall_at(schedule, at),
                override=override_at(schedule, at),
                until=shifts[0].at if shifts else None,
                next=[
                    Turn(shift.at, shift.user, override_at(schedule, shift.at))
                    for shift in shifts[:handoffs]
                ],
            )
        )
    return boards


def next_change(boards: Sequence[ScheduleBoard]) -> datetime | None:
    """The earliest hand-off on the board: when the page is out of date."""
    ends = [board.until for board in boards if board.until is not None]
    return min(ends) if ends else None
