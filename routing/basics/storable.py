"""What both databases can store, decided once: the limits of the bounded columns a
sender's value lands in, and the one rule for characters no database takes.

Everything a sender writes (labels, annotations, titles, descriptions, URLs) is stored
in full in unbounded text and JSON columns; the request body caps its size
(`max_body_bytes`). Only values that land in indexed key columns are bounded: a
PostgreSQL btree entry cannot exceed about 2.7 kB, and a VARCHAR(n) refuses a longer
value where SQLite would silently take it. The edge (integrations/sources) checks
FIELD_LIMITS before anything is written and refuses the one alert that exceeds one,
naming the field; the table columns take their lengths from the same table.

Text: PostgreSQL refuses NUL (U+0000) in text and JSON, and neither database's UTF-8
encoder takes a lone UTF-16 surrogate (a JSON escape such as "\\ud800"). Both become
U+FFFD REPLACEMENT CHARACTER, on both databases, wherever they appear: the mark a
UTF-8 decoder leaves for bytes it cannot read, and what Go's encoding/json (so
Alertmanager) makes of a lone surrogate. The raw body keeps the original bytes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Final

# Sender fields stored in bounded (indexed) columns: field -> maximum length, in
# characters. 200 characters of UTF-8 stay under 800 bytes, far from the btree limit.
# Changing a limit changes the columns (routing/storage/tables.py): it needs a migration.
FIELD_LIMITS: Final[Mapping[str, int]] = {
    "service": 200,  # alert.service and incident.service (indexed with status)
}

# Internal lock keys (`group_lock.name`, a primary key) built from label values: a
# longer one is stored as a digest (see bounded_key).
LOCK_NAME_LIMIT: Final = 400

REPLACEMENT: Final = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable_text(text: str) -> str:
    """`text` with NUL and lone surrogates replaced by U+FFFD (the same string object
    when there are none, which is nearly always). Runs on every Nginx line of a storm,
    so the common cases are checked first, at C speed."""
    if text.isascii():
        return text.replace("\x00", REPLACEMENT) if "\x00" in text else text
    if "\x00" not in text:
        try:
            text.encode("utf-8")  # refuses lone surrogates, and only them
        except UnicodeEncodeError:
            pass
        else:
            return text
    return _UNSTORABLE.sub(REPLACEMENT, text)


def over_limit(field: str, value: str) -> str | None:
    """The refusal message when `value` is too long for `field`'s column, else None."""
    limit = FIELD_LIMITS[field]
    if len(value) <= limit:
        return None
    return f"longer than {limit} characters ({len(value)}): too long to store"


def bounded_key(key: str, limit: int = LOCK_NAME_LIMIT) -> str:
    """`key` itself when it fits `limit` characters; else its start and a digest of the
    whole, so distinct long keys stay distinct and the same key always maps the same."""
    if len(key) <= limit:
        return key
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{key[: limit - len(digest) - 1]}#{digest}"
