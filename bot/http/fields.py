"""Input types of the REST API that both databases can store: refused with 422 naming the
field (never a database error, never a 500) and declared in the OpenAPI schema.

- Text: no NUL character and no lone surrogate (a JSON "\\ud800"): neither database can
  store them (routing.basics.storable). Webhooks replace them, as senders cannot be
  asked to change; a person typing into the API is told, with a 422 naming the field,
  the same on SQLite.
- Instant: a time no closer than a year to the calendar's ends (Python's years 1 and
  9999), so that converting it to UTC, storing it and stepping a window from it cannot
  overflow (an OverflowError, answered 500 on both databases).
- MAX_ROW_ID: ids fit the id columns (INTEGER on PostgreSQL: at most 2^31-1). A larger
  one cannot exist, but handed to the database it overflows the parameter (PostgreSQL)
  or the driver (SQLite, beyond int64): both answered 500.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, WithJsonSchema

from routing.basics.storable import storable_text

MAX_ROW_ID = 2**31 - 1
NO_NUL = "^[^\\u0000]*$"  # JSON Schema (ECMA-262) spelling of "no NUL anywhere"
EARLIEST = datetime(2, 1, 1, tzinfo=UTC)
LATEST = datetime(9998, 12, 31, tzinfo=UTC)


def refuse_unstorable(value: str) -> str:
    if storable_text(value) is not value:
        raise ValueError("must not contain the NUL character (\\u0000) or a lone surrogate")
    return value


Text = Annotated[
    str,
    AfterValidator(refuse_unstorable),
    WithJsonSchema({"type": "string", "pattern": NO_NUL}),
]


def within_calendar(value: datetime) -> bool:
    """Between EARLIEST and LATEST. Aware datetimes compare without converting to UTC,
    so this itself cannot overflow."""
    return EARLIEST <= value <= LATEST


CALENDAR = f"between {EARLIEST.date()} and {LATEST.date()} (UTC)"


def refuse_off_calendar(value: datetime) -> datetime:
    if not within_calendar(value):
        raise ValueError(f"must be {CALENDAR}")
    return value


Instant = Annotated[AwareDatetime, AfterValidator(refuse_off_calendar)]


def assume_utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# As Instant, but a time without a zone is taken as UTC (a query parameter typed by hand).
UtcInstant = Annotated[datetime, AfterValidator(assume_utc), AfterValidator(refuse_off_calendar)]
