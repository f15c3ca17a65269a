"""The threshold's sliding window, pure: the times of the recent lines of a pending
alert, and whether the newest one makes `count` lines within `window`.

A window that slides (rather than one that starts at the first line and restarts when
it runs out) fires for a burst wherever it falls: threshold 5 in 60 s fires for 3 lines
at 0:58-0:59 and 3 at 1:00-1:01.

Times are non-decreasing (see `count_time`), so only the lines within `window` of the
newest can ever count again, and a pending alert keeps at most `count - 1` of them: the
`count`-th fires it. Stored as text (`encode`): exact microseconds, same on both databases.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def count_time(line_time: datetime | None, now: datetime, newest: datetime | None) -> datetime:
    """When one line counts: at its own time (e.g. the nginx log time), or at `now` when
    it has none or claims a time still to come (a wrong time zone, a skewed clock); never
    before the newest line already counted, so an out-of-order line counts then."""
    at = now if line_time is None or line_time > now else line_time
    return newest if newest is not None and newest > at else at


def slide(stamps: Sequence[datetime], at: datetime, window: timedelta) -> tuple[datetime, ...]:
    """The window after a line at `at` (not before the last of `stamps`): the times within
    `window` of it, bounds included, ending with `at` itself."""
    return (*stamps[bisect_left(stamps, at - window) :], at)


def encode(stamps: Sequence[datetime]) -> str:
    """Microseconds since the epoch, comma-separated ("" for none)."""
    return ",".join(str((stamp - _EPOCH) // _MICROSECOND) for stamp in stamps)


def decode(text: str | None) -> tuple[datetime, ...]:
    if not text:
        return ()
    return tuple(_EPOCH + timedelta(microseconds=int(part)) for part in text.split(","))
