"""What every log backend shares: the call it plans, the lines it returns, its protocol.

A backend is pure where it can be: `plan` turns a step's validated `with` into the exact
call (an HTTP request relative to its connection, an argv list, a file read), so a
dry-run shows it and a test checks it without sending anything; `fetch` performs that
call and parses the answer. Values from alerts are data here: each backend escapes them
for its query language (LogQL string, Elasticsearch JSON, URL path segment) in `plan`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict

from integrations.connections import ConnectionBase

if TYPE_CHECKING:
    from integrations.outbound import Outbound


class LogArgs(BaseModel):
    """Base of a log step's `with`: every log step names its connection."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True, frozen=True)

    connection: str


@dataclass(frozen=True, slots=True)
class HttpCall:
    """One HTTP request; the connection supplies scheme, host, base path and credentials."""

    method: str
    path: str  # appended to the connection's url, each segment already percent-encoded
    query: tuple[tuple[str, str], ...] = ()
    json: Any = None  # a JSON body, or None
    headers: tuple[tuple[str, str], ...] = ()  # non-secret headers only
    # Exact body bytes sent instead of `json` (a signed body must go as it was signed).
    content: bytes | None = None


@dataclass(frozen=True, slots=True)
class ExecCall:
    """A fixed program run with an argument list (never a shell)."""

    argv: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FileCall:
    """The last matching lines of one file, read from its end."""

    path: str
    contains: str | None
    lines: int


Call = HttpCall | ExecCall | FileCall


@dataclass(frozen=True, slots=True)
class LogLine:
    at: datetime | None  # when the line was logged, if the backend says
    text: str
    origin: str = ""  # where it came from: stream labels, unit, file name


@dataclass(slots=True)
class Fetched:
    lines: list[LogLine]  # oldest first
    # Values later steps may read as steps.<id>.<key> (count, exception type, ...).
    facts: dict[str, Any] = field(default_factory=dict)


class FetchError(RuntimeError):
    """The backend answered but not with logs (HTTP status, bad JSON, exit code): the
    message names what happened and never carries a credential."""


class LogBackend(Protocol):
    name: ClassVar[str]  # "loki": the action is logs.loki, the connection type loki
    connection_model: ClassVar[type[ConnectionBase]]
    args_model: ClassVar[type[LogArgs]]

    def plan(self, args: Any, connection: Any, now: datetime) -> Call:
        """The exact call for these arguments at `now` (pure)."""
        ...

    def describe(self, call: Call, connection: Any) -> Mapping[str, Any]:
        """The call as a dry-run shows it: method, URL, headers, body; secrets as ***."""
        ...

    async def fetch(self, call: Call, connection: Any, outbound: Outbound) -> Fetched:
        """Perform the call and parse the answer (raises FetchError)."""
        ...
