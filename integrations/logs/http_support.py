"""What the HTTP log backends (Loki, Elasticsearch, Sentry) share: credentials on the
connection, the look-back window, sending through the guarded client, reading JSON, and
the describe/fetch half of a backend (HttpJsonBackend)."""

from __future__ import annotations

import base64
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Self

from pydantic import AfterValidator, model_validator

from integrations.connections import HttpConnection
from integrations.logs.base import Call, Fetched, FetchError, HttpCall
from integrations.outbound import Outbound, OutboundRefused, describe_request
from routing.basics.field import Duration, Secret

MAX_SINCE = timedelta(days=30)
_ERROR_EXCERPT = 300  # characters of an error answer worth showing
_SECRET_KEYS = ("token", "password", "api_key")


def _since(value: timedelta) -> timedelta:
    if not timedelta(seconds=1) <= value <= MAX_SINCE:
        raise ValueError("must be between 1s and 30d")
    return value


# How far back a log step looks.
Since = Annotated[Duration, AfterValidator(_since)]


def _plain_text(value: str) -> str:
    """Alert text reaches queries; a lone surrogate cannot be sent as UTF-8, so say so here."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("is not valid Unicode text") from None
    return value


# A value placed into a query (escaped by the backend for its language).
QueryText = Annotated[str, AfterValidator(_plain_text)]


def basic_auth(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


class BasicAuthConnection(HttpConnection):
    """An HTTP connection with optional HTTP basic auth (username + password)."""

    username: str | None = None
    password: Secret | None = None

    @model_validator(mode="after")
    def _pair(self) -> Self:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        return self

    def _basic(self) -> dict[str, str]:
        if self.username is not None and self.password is not None:
            return {"Authorization": basic_auth(self.username, self.password)}
        return {}


def iso_millis(at: datetime) -> str:
    """2026-12-06T10:00:01.123Z"""
    at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 text or epoch seconds; None when neither (the line is kept, untimed)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


async def fetch_json(
    outbound: Outbound, connection: HttpConnection, call: HttpCall, backend: str
) -> Any:
    """Send `call` and return its JSON answer; FetchError for anything else."""
    try:
        response = await outbound.send(connection, call)
    except OutboundRefused as exc:
        raise FetchError(f"{backend}: {exc}") from None
    if not 200 <= response.status < 300:
        excerpt = _without_secrets(response.body, connection)
        raise FetchError(f"{backend} answered HTTP {response.status}: {excerpt}".rstrip(": "))
    try:
        return json.loads(response.body)
    except (ValueError, RecursionError):  # nesting past the decoder's depth: not an answer
        raise FetchError(f"{backend} answered HTTP {response.status} with no JSON") from None


def _without_secrets(body: bytes, connection: HttpConnection) -> str:
    """The start of an error answer, which may echo what it was sent (a proxy's debug
    page), credentials masked before it is cut: one across the cut leaves no start."""
    values = [str(getattr(connection, key, None) or "") for key in _SECRET_KEYS]
    for header in connection.auth_headers().values():
        values += [header, header.partition(" ")[2]]
    values = sorted(filter(None, values), key=len, reverse=True)
    # bytes enough for the shown characters (UTF-8: at most 4 each) and a whole secret
    window = 4 * _ERROR_EXCERPT + max((len(v.encode()) for v in values), default=0)
    text = body[:window].decode("utf-8", "replace")
    for value in values:
        text = text.replace(value, "***")
    return text[:_ERROR_EXCERPT].strip()


def dig(data: Any, dotted: str) -> Any:
    """`a.b.c` from either a flat key "a.b.c" or nested objects (documents use both)."""
    if not isinstance(data, dict):
        return None
    if dotted in data:
        return data[dotted]
    head, _, rest = dotted.partition(".")
    return dig(data.get(head), rest) if rest else None


class HttpJsonBackend(ABC):
    """A backend whose call is one HTTP request answered with JSON: dry-runs show the
    request (credentials as ***), fetch sends it and hands the answer to `parse`."""

    def describe(self, call: Call, connection: HttpConnection) -> Mapping[str, Any]:
        assert isinstance(call, HttpCall)
        return describe_request(connection, call)

    async def fetch(self, call: Call, connection: HttpConnection, outbound: Outbound) -> Fetched:
        assert isinstance(call, HttpCall)
        answer = await fetch_json(outbound, connection, call, self.answerer(connection))
        return self.parse(answer)

    def answerer(self, connection: HttpConnection) -> str:
        """Who answered, as error texts name it: "loki", "sentry"."""
        return connection.type

    @abstractmethod
    def parse(self, answer: Any) -> Fetched:
        """The JSON answer -> lines and facts (FetchError when it holds no logs)."""
