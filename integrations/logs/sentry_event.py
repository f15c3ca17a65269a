"""logs.sentry_event: one event of a Sentry issue, read as text: the exception, its in-app
frames, the tags and the last breadcrumbs.

GET /api/0/organizations/{org}/issues/{issue_id}/events/{latest|oldest|recommended|id}/

Issue webhooks lack the stack trace, so the step fetches it by issue id. The issue id
(digits) and event (a keyword or a hex id) are validated, and every path segment is
percent-encoded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal
from urllib.parse import quote

from pydantic import Field

from integrations.connections import BaseURL, ConnectionBase, HttpConnection
from integrations.logs.base import Call, Fetched, FetchError, HttpCall, LogArgs, LogLine
from integrations.logs.http_support import HttpJsonBackend, parse_time
from routing.basics.field import Secret

BREADCRUMBS = 10  # the last ones before the event are the useful ones
FALLBACK_FRAMES = 5  # shown when no frame is marked in-app
EVENT_KEYWORDS = ("latest", "oldest", "recommended")
_TEXT_CAP = 500  # characters of one exception value or breadcrumb message


class SentryConnection(HttpConnection):
    type: Literal["sentry"]
    url: BaseURL = "https://sentry.io"
    organization: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")  # the org slug
    token: Secret  # an auth token with event:read

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class SentryEventArgs(LogArgs):
    issue_id: str = Field(pattern=r"^[0-9]{1,20}$")
    event: str = Field(default="latest", pattern=r"^(latest|oldest|recommended|[0-9a-fA-F]{32})$")
    environment: str | None = Field(default=None, min_length=1, max_length=64)


class SentryEventBackend(HttpJsonBackend):
    name: ClassVar[str] = "sentry_event"
    connection_model: ClassVar[type[ConnectionBase]] = SentryConnection
    args_model: ClassVar[type[LogArgs]] = SentryEventArgs

    def plan(self, args: SentryEventArgs, connection: SentryConnection, now: datetime) -> Call:
        segments = ("organizations", connection.organization, "issues", args.issue_id)
        path = "/api/0/" + "/".join(quote(s, safe="") for s in segments)
        path += f"/events/{quote(args.event.lower(), safe='')}/"
        query = (("environment", args.environment),) if args.environment else ()
        return HttpCall(
            method="GET", path=path, query=query, headers=(("Accept", "application/json"),)
        )

    def parse(self, answer: Any) -> Fetched:
        return parse_event(answer)


def _short(value: Any) -> str:
    text = " ".join(str(value).split())  # one line: stack texts carry newlines
    return text if len(text) <= _TEXT_CAP else text[: _TEXT_CAP - 1] + "…"


def _list(value: Any) -> list[Any]:
    """A list the event should have there; anything else (a number, a string) is none."""
    return value if isinstance(value, list) else []


def _entries(event: dict[str, Any], kind: str) -> list[Any]:
    for entry in _list(event.get("entries")):
        if isinstance(entry, dict) and entry.get("type") == kind:
            data = entry.get("data")
            values = data.get("values") if isinstance(data, dict) else None
            return values if isinstance(values, list) else []
    return []


def _frame_text(frame: dict[str, Any]) -> str:
    where = frame.get("filename") or frame.get("absPath") or frame.get("module") or "?"
    if frame.get("lineNo") is not None:
        where = f"{where}:{frame['lineNo']}"
    return f"  at {where} in {frame.get('function') or '?'}"


def _exception_lines(values: list[Any]) -> list[LogLine]:
    lines: list[LogLine] = []
    for exc in values:  # a chain: causes first, the raised exception last
        if not isinstance(exc, dict):
            continue
        lines.append(
            LogLine(None, _short(f"{exc.get('type') or 'Error'}: {exc.get('value') or ''}"))
        )
        stack = exc.get("stacktrace")
        frames = stack.get("frames") if isinstance(stack, dict) else None
        frames = [f for f in _list(frames) if isinstance(f, dict)]
        in_app = [f for f in frames if f.get("inApp") is True]
        if not in_app and frames:
            lines.append(LogLine(None, f"  (no in-app frames; the last {FALLBACK_FRAMES} shown)"))
        for frame in in_app or frames[-FALLBACK_FRAMES:]:
            lines.append(LogLine(None, _frame_text(frame)))
    return lines


def _breadcrumb_line(crumb: dict[str, Any]) -> LogLine:
    data = crumb.get("data") if isinstance(crumb.get("data"), dict) else {}
    message = crumb.get("message")
    if not message and data:
        # http breadcrumbs carry their request in data: method, url, status_code
        message = " ".join(str(data[k]) for k in ("method", "url", "status_code") if k in data)
    level = crumb.get("level")
    parts = [crumb.get("category") or crumb.get("type") or "breadcrumb"]
    parts += [f"[{level}]"] if level and level != "info" else []
    parts += [_short(message)] if message else []
    return LogLine(parse_time(crumb.get("timestamp")), " ".join(parts), origin="breadcrumb")


def parse_event(event: Any) -> Fetched:
    if not isinstance(event, dict) or not (event.get("eventID") or event.get("id")):
        raise FetchError("sentry answered without an event")
    event_id = str(event.get("eventID") or event.get("id"))
    title = str(event.get("title") or "")
    lines = [
        LogLine(
            parse_time(event.get("dateCreated")),
            _short(f"{title} (event {event_id})"),
            origin="sentry",
        )
    ]
    exceptions = [e for e in _entries(event, "exception") if isinstance(e, dict)]
    lines += _exception_lines(exceptions)
    if not exceptions and event.get("message"):
        lines.append(LogLine(None, _short(event["message"])))
    tags = [t for t in _list(event.get("tags")) if isinstance(t, dict) and "key" in t]
    if tags:
        lines.append(
            LogLine(
                None, _short("tags: " + ", ".join(f"{t['key']}={t.get('value')}" for t in tags))
            )
        )
    crumbs = [c for c in _entries(event, "breadcrumbs") if isinstance(c, dict)]
    lines += [_breadcrumb_line(c) for c in crumbs[-BREADCRUMBS:]]
    last = exceptions[-1] if exceptions else {}
    facts = {
        "event_id": event_id,
        "title": title,
        "exception_type": str(last.get("type") or ""),
        "exception_value": str(last.get("value") or ""),
        "count": len(lines),
    }
    return Fetched(lines=lines, facts=facts)
