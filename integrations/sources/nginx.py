"""Nginx error.log lines (plain text, or JSON/NDJSON from log shippers) to alerts.

Body shapes accepted:
- text: error.log lines, one per line, optionally behind a shipper prefix
  (syslog file, journald, `docker logs -t`, docker-compose);
- JSON: one object with a `line`, `message` or `log` string (what Vector,
  Fluent Bit and Promtail-style shippers send), an array of such objects (or of
  plain strings), or NDJSON (one such object per line).

Identity is the message template (numbers, addresses, ports, hex, uuids, paths,
URLs and query strings masked; errno text normalized so glibc's
"Connection timed out", musl's "Operation timed out" and "Unknown error" agree)
plus the `server` name and the upstream host (never its port or path). So many
clients hitting one dead upstream are one alert, while another server or upstream
host is another.

Nginx writes local time with no zone; lacking anything better the parser takes it
as UTC, so run nginx with TZ=UTC for exact times. Lines that are not error lines
(access log lines, garbage, shapes we do not know) are counted in
`ParseResult.unparsed`; the caller keeps the raw body. Every alert is `firing`:
thresholds and auto-resolve belong to the pipeline.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson

from integrations.sources.base import ParseResult, PayloadError, SourceOptions
from integrations.sources.payload import header, type_name
from routing.intake.alert import UNKNOWN_SERVICE, Alert, AlertStatus, Severity
from routing.intake.fingerprint import fingerprint_of

NAME = "nginx"
TITLE_LIMIT = 200
MAX_LINE = 4096  # characters: a 2048-byte nginx line plus any shipper prefix
LINE_KEYS = ("line", "message", "log")  # where shippers put the raw log line

LEVELS: Mapping[str, Severity] = {
    "emerg": Severity.CRITICAL,
    "alert": Severity.CRITICAL,
    "crit": Severity.CRITICAL,
    "error": Severity.ERROR,
    "warn": Severity.WARNING,
    "notice": Severity.INFO,
    "info": Severity.INFO,
    "debug": Severity.INFO,
}

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


def parse_error_line(line: str) -> NginxLine | None:
    """Parse one nginx error.log line (or its stderr form); None if it is not one."""
    # nginx never writes more than 2048 bytes (NGX_MAX_ERROR_STR); the cap bounds the
    # work a hostile sender can cause and what the template caches hold.
    line = line[:MAX_LINE].strip()
    match = _ERROR_LINE.search(line)
    if match is not None:
        level, rest, text = match["level"], match["rest"], line[match.start() :]
        time = _line_time(match["date"], match["clock"])
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


def _line_time(date: str | None, clock: str | None) -> datetime | None:
    if date is None or clock is None:
        return None
    try:
        return datetime(
            int(date[0:4]),
            int(date[5:7]),
            int(date[8:10]),
            int(clock[0:2]),
            int(clock[3:5]),
            int(clock[6:8]),
            tzinfo=UTC,  # nginx logs local time without a zone; see the module docstring
        )
    except ValueError:
        return None  # e.g. month 13: still an error line, just without a time


# --- message templates --------------------------------------------------------------

# glibc's strerror texts for the errnos nginx reports most. Keyed by number, so the
# text a given libc printed (musl: "Operation timed out", some: "Unknown error")
# never splits one problem into several alerts.
ERRNO_TEXT: Mapping[str, str] = {
    "1": "Operation not permitted",
    "2": "No such file or directory",
    "11": "Resource temporarily unavailable",
    "12": "Cannot allocate memory",
    "13": "Permission denied",
    "20": "Not a directory",
    "21": "Is a directory",
    "24": "Too many open files",
    "28": "No space left on device",
    "32": "Broken pipe",
    "98": "Address already in use",
    "99": "Cannot assign requested address",
    "101": "Network is unreachable",
    "103": "Software caused connection abort",
    "104": "Connection reset by peer",
    "110": "Connection timed out",
    "111": "Connection refused",
    "112": "Host is down",
    "113": "No route to host",
}

_MASK = re.compile(
    r"(?P<errno>\((?P<errnum>\d{1,5}): [^()]*\))"
    r"|(?P<user>\buser (?:\"[^\"]*\"|'[^']*'))"
    r"|(?P<url>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'(),<>]+)"
    r"|(?P<uuid>\b[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\b)"
    r"|(?P<ip6b>\[[0-9A-Fa-f:.]+\](?::\d+)?)"
    r"|(?P<ip4>\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b)"
    r"|(?P<ip6>(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:]))"
    r"|(?P<qpath>\"/[^\"]*\")"  # a quoted path may hold spaces
    r"|(?P<path>(?<![\w.])/[^\s\"',()]*)"
    r"|(?P<hex>\b(?:0x[0-9A-Fa-f]+|(?=[0-9A-Fa-f]*[A-Fa-f])(?=[0-9A-Fa-f]*\d)[0-9A-Fa-f]{8,})\b)"
    r"|(?P<number>(?<![A-Za-z_])\d+(?:\.\d+)*)"
)
_MASKED = {
    "user": 'user "*"',
    "url": "<url>",
    "uuid": "<uuid>",
    "ip6b": "<ip>",
    "ip4": "<ip>",
    "ip6": "<ip>",
    "qpath": '"<path>"',
    "path": "<path>",
    "hex": "<hex>",
    "number": "N",
}
_SPACES = re.compile(r"\s+")


def _mask(match: re.Match[str]) -> str:
    kind = match.lastgroup
    if kind == "errnum":  # lastgroup names the innermost closed group
        kind = "errno"
    if kind == "errno":
        number = match["errnum"]
        text = ERRNO_TEXT.get(number)
        return f"({number}: {text})" if text else f"({number})"
    return _MASKED.get(kind or "", match[0])


@lru_cache(maxsize=4096)
def message_template(message: str, action: str | None = None) -> str:
    """The message with its variable parts masked: the identity of a kind of error."""
    text = _MASK.sub(_mask, message)
    if action:
        text = f"{text} while {_MASK.sub(_mask, action)}"
    return _SPACES.sub(" ", text).strip()


def upstream_host(upstream: str) -> str:
    """The host of an upstream address: no scheme, port or path. Unix sockets keep
    their path, since the socket is the identity there."""
    rest = upstream.strip()
    scheme_end = rest.find("://")
    if scheme_end > 0:
        rest = rest[scheme_end + 3 :]
    if rest.startswith("unix:"):
        socket, _, _ = rest[5:].partition(":")  # `unix:/run/app.sock:/uri`
        return f"unix:{socket}"
    if rest.startswith("["):
        close = rest.find("]")
        return rest[1:close].lower() if close > 0 else rest[1:].lower()
    end = len(rest)
    for separator in ":/?":
        found = rest.find(separator)
        if 0 <= found < end:
            end = found
    return rest[:end].lower()


# --- the source ---------------------------------------------------------------------


class NginxSource:
    """Parses error.log text or shipper JSON; one firing alert per error line."""

    name = NAME

    def parse(self, body: bytes, headers: Mapping[str, str], options: SourceOptions) -> ParseResult:
        lines, unparsed = _body_lines(body, header(headers, "content-type"))
        alerts: list[Alert] = []
        for line in lines:
            parsed = parse_error_line(line)
            if parsed is None:
                unparsed += 1
            else:
                alerts.append(alert_for(parsed, options))
        return ParseResult(alerts, unparsed=unparsed)


def alert_for(parsed: NginxLine, options: SourceOptions) -> Alert:
    """The alert for one parsed line (a syslog listener can call it per datagram)."""
    template = message_template(parsed.message, parsed.action)
    upstream = upstream_host(parsed.upstream) if parsed.upstream else ""
    server = parsed.server or ""
    fields = {"template": template, "server": server, "upstream_host": upstream}
    service = _service(server, upstream, parsed.host, options)
    labels = {"service": service, "level": parsed.level}
    if server:
        labels["server"] = server
    if upstream:
        labels["upstream_host"] = upstream
    annotations = {"message": parsed.message}
    for key in ("client", "request", "upstream", "host", "referrer"):
        value = getattr(parsed, key)
        if value:
            annotations[key] = value
    title = template or "(empty nginx message)"
    if len(title) > TITLE_LIMIT:
        title = title[: TITLE_LIMIT - 1] + "…"
    return Alert(
        source=NAME,
        fingerprint=_fingerprint(template, server, upstream),
        status=AlertStatus.FIRING,
        severity=LEVELS[parsed.level],
        service=service,
        title=title,
        description=parsed.text,
        labels=labels,
        annotations=annotations,
        starts_at=parsed.time,
        fingerprint_fields=fields,
    )


@lru_cache(maxsize=4096)
def _fingerprint(template: str, server: str, upstream: str) -> str:
    return fingerprint_of(NAME, {"template": template, "server": server, "upstream_host": upstream})


def _service(server: str, upstream: str, host: str | None, options: SourceOptions) -> str:
    """The first of server name, upstream host, Host header that `services` maps."""
    # `_` is nginx's catch-all server_name, never a real name to map.
    candidates = [server if server != "_" else "", upstream]
    if host:
        candidates += [host, host.rsplit(":", 1)[0] if host.count(":") == 1 else host]
    for candidate in candidates:
        if candidate and candidate in options.services:
            return options.services[candidate]
    return UNKNOWN_SERVICE


# --- body shapes ----------------------------------------------------------------------

_NOT_JSON = object()


def _body_lines(body: bytes, content_type: str | None) -> tuple[list[str], int]:
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
    return [line for line in text.splitlines() if line.strip()]


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


nginx = NginxSource()
