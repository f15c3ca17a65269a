"""Input types of the REST API that both databases can store: refused with 422 naming the
field (never a database error, never a 500) and declared in the OpenAPI schema.

- Text: no NUL character and no lone surrogate (a JSON "\\ud800"): neither database can
  store them (routing.basics.storable). Webhooks replace them, as senders cannot be
  asked to change; a person typing into the API is told, with a 422 naming the field,
  the same on SQLite.
- MAX_ROW_ID: ids fit the id columns (INTEGER on PostgreSQL: at most 2^31-1). A larger
  one cannot exist, but handed to the database it overflows the parameter (PostgreSQL)
  or the driver (SQLite, beyond int64): both answered 500.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema

from routing.basics.storable import storable_text

MAX_ROW_ID = 2**31 - 1
NO_NUL = "^[^\\u0000]*$"  # JSON Schema (ECMA-262) spelling of "no NUL anywhere"


def refuse_unstorable(value: str) -> str:
    if storable_text(value) is not value:
        raise ValueError("must not contain the NUL character (\\u0000) or a lone surrogate")
    return value


Text = Annotated[
    str,
    AfterValidator(refuse_unstorable),
    WithJsonSchema({"type": "string", "pattern": NO_NUL}),
]
