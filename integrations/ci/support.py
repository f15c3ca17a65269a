"""What the CI backends share: escaping names into paths, sending through the guarded
client, telling a refusal from an ambiguous answer, rate-limit waits, error excerpts."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from integrations.ci.base import CiError, Dispatched, HttpCall, RemoteRun
from integrations.connections import HttpConnection
from integrations.logs.http_support import QueryText
from integrations.outbound import Outbound, OutboundNotSent, OutboundRefused, OutboundResponse

_ERROR_EXCERPT = 200
_SECRET_KEYS = ("token", "api_token", "trigger_token", "secret", "password")
DEFAULT_RATE_WAIT = timedelta(minutes=1)  # GitHub: "wait at least one minute"
MAX_RATE_WAIT = timedelta(hours=1)


# A value a step sends (ref, input, variable, parameter, job name): the log steps' check,
# text that can be sent as UTF-8.
Text = QueryText


def segment(value: str) -> str:
    """One URL path segment: every character outside unreserved ones percent-encoded, so
    no value (a template's output included) can add a segment, a query or a fragment."""
    return quote(value, safe="")


def name_check(pattern: re.Pattern[str], what: str) -> Any:
    """A validator: the value must match `pattern`, and no /-part be `.` or `..`."""

    def check(value: str) -> str:
        if not pattern.fullmatch(value) or any(p.strip(".") == "" for p in value.split("/")):
            raise ValueError(f'"{value}" is not a valid {what}')
        return value

    return check


def correlation_pattern(correlation_id: str) -> re.Pattern[str]:
    """The id as a whole token: fb-12-repro must not match fb-12-repro-gitlab."""
    return re.compile(rf"(?<![A-Za-z0-9_-]){re.escape(correlation_id)}(?![A-Za-z0-9_-])")


def excerpt(response: OutboundResponse, connection: HttpConnection) -> str:
    """The start of an error answer, credentials masked (a proxy may echo a request).
    Masked before it is cut: a credential across the cut must not leave its start."""
    values = [str(getattr(connection, key, None) or "") for key in _SECRET_KEYS]
    for header in connection.auth_headers().values():
        values += [header, header.partition(" ")[2]]
    values = sorted(filter(None, values), key=len, reverse=True)
    # bytes enough for the shown characters (UTF-8: at most 4 each) and a whole secret
    window = 4 * _ERROR_EXCERPT + max((len(v.encode()) for v in values), default=0)
    text = response.body[:window].decode("utf-8", "replace")
    for value in values:
        text = text.replace(value, "***")
    return " ".join(text[:_ERROR_EXCERPT].split())


def answer_text(who: str, response: OutboundResponse, connection: HttpConnection) -> str:
    shown = excerpt(response, connection)
    return f"{who} answered HTTP {response.status}" + (f": {shown}" if shown else "")


def json_answer(response: OutboundResponse, who: str) -> Any:
    try:
        return json.loads(response.body) if response.body else None
    except (ValueError, RecursionError):  # nesting past the decoder's depth: not an answer
        raise CiError(f"{who} answered HTTP {response.status} with no JSON") from None


_SECONDS = re.compile(r"[0-9]+")  # not str.isdigit: "²" is a digit int() refuses


def _seconds(digits: str) -> int:
    """A header's whole seconds, read at most 12 digits long (any more is past every cap)."""
    significant = digits.lstrip("0")
    return int(significant[:12]) * (10 if len(significant) > 12 else 1)


def rate_limit_wait(
    status: int, headers: Mapping[str, str], now: datetime, body: bytes = b""
) -> timedelta | None:
    """How long the CI asks us to wait (None: it does not). `retry-after` wins; else an
    exhausted quota waits for `x-ratelimit-reset` (epoch seconds); else a 429, or a 403
    that counts requests or says it is GitHub's secondary limit (which may come without
    headers), waits a minute (GitHub's advice). Any other 403 is a permission refusal."""
    retry_after = str(headers.get("retry-after", "")).strip()
    cap = MAX_RATE_WAIT.total_seconds()  # capped as numbers: a huge header overflows timedelta
    if _SECONDS.fullmatch(retry_after):
        return timedelta(seconds=min(max(_seconds(retry_after), 1), cap))
    remaining = str(headers.get("x-ratelimit-remaining", "")).strip()
    reset = str(headers.get("x-ratelimit-reset", "")).strip()
    if remaining == "0" and _SECONDS.fullmatch(reset):
        return timedelta(seconds=min(max(_seconds(reset) - now.timestamp(), 1), cap))
    secondary = b"secondary rate limit" in body.lower()
    if status == 429 or (status == 403 and (remaining == "0" or secondary)):
        return DEFAULT_RATE_WAIT
    return None


async def send_dispatch(
    outbound: Outbound,
    connection: HttpConnection,
    call: HttpCall,
    who: str,
    now: datetime,
) -> OutboundResponse | Dispatched:
    """Send a dispatch once. The answer when it is 2xx; otherwise what it means:
    refused before sending (address check, DNS, connection refused) or a 4xx is a
    refusal (with the wait a rate limit asks for); no answer or a 5xx is ambiguous (the
    run may exist)."""
    try:
        response = await outbound.send(connection, call)
    except OutboundNotSent as exc:
        return Dispatched(None, ambiguous=False, detail=f"{who}: not sent: {exc}")
    except OutboundRefused as exc:
        return Dispatched(None, ambiguous=True, detail=f"{who}: no answer to the dispatch: {exc}")
    if 200 <= response.status < 300:
        return response
    text = answer_text(who, response, connection)
    if response.status >= 500:
        return Dispatched(None, ambiguous=True, detail=text)
    wait = rate_limit_wait(response.status, response.headers, now, response.body)
    if wait is not None and response.status in (403, 429):
        return Dispatched(None, ambiguous=False, detail=f"{text} (rate limited)", retry_after=wait)
    return Dispatched(None, ambiguous=False, detail=text)


async def read_json(
    outbound: Outbound,
    connection: HttpConnection,
    call: HttpCall,
    who: str,
    now: datetime,
) -> tuple[Any, timedelta | None]:
    """GET-style call -> (JSON answer, rate-limit wait the answer asks for). CiError for
    anything but 2xx, carrying the wait when the CI rate-limited us."""
    try:
        response = await outbound.send(connection, call)
    except OutboundRefused as exc:
        raise CiError(f"{who}: {exc}") from None
    wait = rate_limit_wait(response.status, response.headers, now, response.body)
    if not 200 <= response.status < 300:
        raise CiError(answer_text(who, response, connection), wait, response.status)
    return json_answer(response, who), wait


async def post_cancel(
    outbound: Outbound, connection: HttpConnection, call: HttpCall, who: str, run: RemoteRun
) -> str:
    """Send a cancel request; what happened, in words (never raises)."""
    try:
        response = await outbound.send(connection, call)
    except OutboundRefused as exc:
        return f"{who}: cancel of {run.remote_id} not confirmed: {exc}"
    if 200 <= response.status < 400:
        return f"{who}: cancel of {run.remote_id} requested (HTTP {response.status})"
    return f"{who}: cancel of {run.remote_id} failed: {answer_text(who, response, connection)}"


__all__ = [
    "Text",
    "answer_text",
    "correlation_pattern",
    "excerpt",
    "json_answer",
    "name_check",
    "post_cancel",
    "rate_limit_wait",
    "read_json",
    "segment",
    "send_dispatch",
]
