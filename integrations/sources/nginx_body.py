"""Body shapes the nginx source accepts: text lines, one JSON record, an array, NDJSON.

Shippers (Vector, Fluent Bit, Promtail-style) put the raw line under `line`,
`message` or `log`; records without one are counted, not rejected.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from integrations.sources.base import PayloadError
from integrations.sources.payload import type_name
from routing.basics.storable import storable_text

LINE_KEYS = ("line", "message", "log")  # where shippers put the raw log line

_NOT_JSON = object()


def body_lines(body: bytes, content_type: str | None) -> tuple[list[str], int]:
    """The text lines in a body, and how many JSON records held no line at all."""
    start = body.lstrip()[:1]
    declared_json = content_type is not None and "json" in content_type.lower()
    if declared_json or start in (b"{", b"["):
        value = _loads(body)
        if value is not _NOT_JSON:
            return _json_lines(value)
        if declared_json or start == b"{":
            return _ndjson_lines(body)
        # A failed `[`: text such as a pasted `[error] 12#12: ...` line.
    return _text_lines(body.decode("utf-8", "replace")), 0


def _loads(data: bytes | str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return _NOT_JSON


def _text_lines(text: str) -> list[str]:
    """The non-blank lines, storable (every body shape and syslog ends here: the one
    place a NUL in an nginx line becomes U+FFFD)."""
    return [storable_text(line) for line in text.splitlines() if line.strip()]


def _json_lines(value: Any) -> tuple[list[str], int]:
    if isinstance(value, dict):
        return _record_lines([value], single=True)
    if isinstance(value, list):
        return _record_lines(value, single=False)
    raise PayloadError(
        "body", f"expected an object or array of log records, got {type_name(value)}"
    )


def _ndjson_lines(body: bytes) -> tuple[list[str], int]:
    """NDJSON; a line that is not JSON is kept as a text line (it may be a log line)."""
    records: list[Any] = []
    for raw in body.split(b"\n"):
        if not raw.strip():
            continue
        value = _loads(raw)
        records.append(raw.decode("utf-8", "replace") if value is _NOT_JSON else value)
    return _record_lines(records, single=False)


def _record_lines(records: Iterable[Any], *, single: bool) -> tuple[list[str], int]:
    lines: list[str] = []
    unusable = 0
    for index, record in enumerate(records):
        path = "" if single else f"records[{index}]"
        if isinstance(record, str):
            lines.extend(_text_lines(record))
            continue
        if not isinstance(record, dict):
            raise PayloadError(
                path or "body", f"expected a log record object, got {type_name(record)}"
            )
        key = next((k for k in LINE_KEYS if k in record), None)
        if key is None:
            unusable += 1  # a record of some other kind: counted, the raw body keeps it
            continue
        text = record[key]
        if not isinstance(text, str):
            field = f"{path}.{key}" if path else key
            raise PayloadError(field, f"expected a string, got {type_name(text)}")
        lines.extend(_text_lines(text))
    return lines, unusable
