"""The nginx error.log line grammar: one line (or its stderr form) to an NginxLine.

Accepts a shipper prefix before the line (syslog file, journald, `docker logs -t`,
docker-compose) and a line without its timestamp. Nginx writes the local time of its
host with no zone: the caller names the zone (`sources.nginx.time_zone`, default UTC).
Around DST changes the mapping is `routing.basics.clock.local_to_utc`'s: a time the
autumn change repeats is its first occurrence (summer time), a time the spring change
skips is the end of the gap (02:30 in Europe/Berlin's gap is 03:00 CEST, 01:00 UTC).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from routing.basics.clock import local_to_utc

MAX_LINE = 4096  # characters: a 2048-byte nginx line plus any shipper prefix

_LEVEL = r"\[(?P<level>emerg|alert|crit|error|warn|notice|info|debug)\]"
# `search`, not `match`: shipper prefixes come first. The timestamp is optional
# because users paste lines without it; nginx always writes `pid#tid: `.
_ERROR_LINE = re.compile(
    r"(?:(?P<date>\d{4}/\d{2}/\d{2}) (?P<clock>\d{2}:\d{2}:\d{2}) )?"
    + _LEVEL
    + r" (?P<pid>\d{1,10})#(?P<tid>\d{1,20}): (?:\*(?P<conn>\d{1,20}) )?(?P<rest>.*)"
)
# Before the log file is open nginx writes to stderr: `nginx: [emerg] message`.
_STDERR_LINE = re.compile(r"(?<![\w-])nginx: " + _LEVEL + r" (?P<rest>.*)")
# The context nginx appends after the message (ngx_http_log_error & co).
_CONTEXT = re.compile(
    r", client: (?P<client>[^,]*)(?:, server: (?P<server>[^,]*))?"
    r"(?P<tail>(?:, [a-z][a-z /]*: .*)?)$"
)
# Only the keys nginx writes, so text inside a value rarely looks like a new key.
# Splitting at key positions (not one regex per value) keeps this linear.
_CONTEXT_KEY = re.compile(r", (request|subrequest|upstream|host|referrer|login): ")
_ACTION = " while "


@dataclass(frozen=True, slots=True)
class NginxLine:
    """One parsed error.log line. `text` is the nginx line without any shipper prefix;
    `message` is the error text without the `while` action and the context."""

    level: str
    message: str
    text: str
    time: datetime | None = None
    pid: int | None = None
    tid: int | None = None
    connection: int | None = None
    action: str | None = None
    client: str | None = None
    server: str | None = None
    request: str | None = None
    upstream: str | None = None
    host: str | None = None
    referrer: str | None = None


def parse_error_line(line: str, zone: ZoneInfo | None = None) -> NginxLine | None:
    """Parse one nginx error.log line (or its stderr form); None if it is not one. Its
    time is read in `zone` (the nginx host's; None: UTC) and given in UTC."""
    # nginx never writes more than 2048 bytes (NGX_MAX_ERROR_STR); the cap bounds the
    # work a hostile sender can cause and what the template caches hold.
    line = line[:MAX_LINE].strip()
    match = _ERROR_LINE.search(line)
    if match is not None:
        level, rest, text = match["level"], match["rest"], line[match.start() :]
        time = _line_time(match["date"], match["clock"], zone)
        pid, tid = int(match["pid"]), int(match["tid"])
        connection = int(match["conn"]) if match["conn"] else None
    else:
        match = _STDERR_LINE.search(line)
        if match is None:
            return None
        level, rest, text = match["level"], match["rest"], line[match.start() :]
        time, pid, tid, connection = None, None, None, None

    fields: dict[str, str] = {}
    context = _CONTEXT.search(rest)
    if context is not None:
        head = rest[: context.start()]
        fields["client"] = context["client"]
        if context["server"] is not None:
            fields["server"] = context["server"]
        fields.update(_context_fields(context["tail"]))
    else:
        head = rest
    # Actions never contain " while ", messages occasionally do: split at the last.
    message, found, action = head.rpartition(_ACTION)
    if not found:
        message, action = head, ""
    return NginxLine(
        level=level,
        message=message.strip(),
        text=text,
        time=time,
        pid=pid,
        tid=tid,
        connection=connection,
        action=action.strip() or None,
        client=fields.get("client") or None,
        server=fields.get("server") or None,
        request=fields.get("request") or None,
        upstream=fields.get("upstream") or None,
        host=fields.get("host") or None,
        referrer=fields.get("referrer") or None,
    )


def _context_fields(tail: str) -> dict[str, str]:
    """`, request: "...", upstream: "...", host: "..."` as a dict, quotes removed."""
    keys = list(_CONTEXT_KEY.finditer(tail))
    fields: dict[str, str] = {}
    for index, key in enumerate(keys):
        end = keys[index + 1].start() if index + 1 < len(keys) else len(tail)
        value = tail[key.end() : end]
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            value = value[1:-1]
        fields.setdefault(key[1], value)
    return fields


# Cached: the lines of a burst share their few timestamps, and a zone lookup is not free.
@lru_cache(maxsize=1024)
def _line_time(date: str | None, clock: str | None, zone: ZoneInfo | None) -> datetime | None:
    if date is None or clock is None:
        return None
    try:
        wall = datetime(
            int(date[0:4]),
            int(date[5:7]),
            int(date[8:10]),
            int(clock[0:2]),
            int(clock[3:5]),
            int(clock[6:8]),
        )
    except ValueError:
        return None  # e.g. month 13: still an error line, just without a time
    if zone is None or zone.key == "UTC":
        return wall.replace(tzinfo=UTC)
    try:
        return local_to_utc(wall, zone)  # DST edges: see the module docstring
    except (OverflowError, ValueError):
        return None  # year 1 or 9999 shifted out of range: no time rather than a 500
