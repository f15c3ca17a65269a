"""logs.loki: recent lines from Grafana Loki (GET /loki/api/v1/query_range).

The LogQL selector is built here from label names (validated identifiers) and values
(escaped as LogQL strings), so a value such as `a"} or {job=~".+` stays one string and
cannot widen the query.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import AfterValidator, Field, model_validator

from integrations.connections import ConnectionBase
from integrations.logs.base import Call, Fetched, FetchError, HttpCall, LogArgs, LogLine
from integrations.logs.http_support import (
    BasicAuthConnection,
    HttpJsonBackend,
    QueryText,
    Since,
)
from routing.basics.field import Secret

QUERY_RANGE = "/loki/api/v1/query_range"
MAX_LIMIT = 5000  # Loki's default max_entries_limit_per_query
_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Characters a LogQL (Go) double-quoted string needs escaped; other control characters
# go as \u00XX.
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def logql_string(value: str) -> str:
    """`value` as a double-quoted LogQL string literal."""
    out = []
    for char in value:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def logql_selector(labels: Mapping[str, str]) -> str:
    """{name="value",...} in the given order (names must already be valid)."""
    return "{" + ",".join(f"{name}={logql_string(value)}" for name, value in labels.items()) + "}"


def _label_names(selector: dict[str, str]) -> dict[str, str]:
    if not selector:
        raise ValueError("needs at least one label")
    for name, value in selector.items():
        if not _LABEL_NAME.fullmatch(name):
            raise ValueError(f'label name "{name}" is not a valid Loki label name')
        if value == "":
            # {app=""} matches every stream without the label: a silently wider query.
            raise ValueError(f'label "{name}" has an empty value')
    return selector


class LokiConnection(BasicAuthConnection):
    type: Literal["loki"]
    token: Secret | None = None  # bearer, e.g. a Grafana Cloud or gateway token
    org_id: str | None = Field(default=None, min_length=1)  # X-Scope-OrgID (multi-tenant)

    @model_validator(mode="after")
    def _one_credential(self) -> Self:
        if self.token is not None and self.username is not None:
            raise ValueError("give either token or username+password, not both")
        return self

    def auth_headers(self) -> dict[str, str]:
        if self.token is not None:
            return {"Authorization": f"Bearer {self.token}"}
        return self._basic()


class LokiArgs(LogArgs):
    selector: Annotated[dict[str, QueryText], AfterValidator(_label_names)]
    contains: QueryText | None = Field(default=None, min_length=1)
    since: Since = timedelta(minutes=30)
    limit: int = Field(default=200, ge=1, le=MAX_LIMIT)


def _ns(at: datetime) -> int:
    return (at - _EPOCH) // timedelta(microseconds=1) * 1000


def logql_query(args: LokiArgs) -> str:
    query = logql_selector(args.selector)
    if args.contains is not None:
        query += f" |= {logql_string(args.contains)}"
    return query


class LokiBackend(HttpJsonBackend):
    name: ClassVar[str] = "loki"
    connection_model: ClassVar[type[ConnectionBase]] = LokiConnection
    args_model: ClassVar[type[LogArgs]] = LokiArgs

    def plan(self, args: LokiArgs, connection: LokiConnection, now: datetime) -> Call:
        headers: tuple[tuple[str, str], ...] = (("Accept", "application/json"),)
        if connection.org_id is not None:
            headers += (("X-Scope-OrgID", connection.org_id),)
        return HttpCall(
            method="GET",
            path=QUERY_RANGE,
            query=(
                ("query", logql_query(args)),
                ("start", str(_ns(now - args.since))),
                ("end", str(_ns(now))),
                ("limit", str(args.limit)),
                ("direction", "backward"),
            ),
            headers=headers,
        )

    def parse(self, answer: Any) -> Fetched:
        return parse_streams(answer)


def _stream_origin(labels: Any) -> str:
    if not isinstance(labels, dict):
        return "{}"
    return logql_selector({str(k): str(v) for k, v in sorted(labels.items())})


def parse_streams(answer: Any) -> Fetched:
    """A query_range answer of resultType streams -> lines, oldest first."""
    data = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(data, dict) or answer.get("status") != "success":
        raise FetchError("loki answered without data (status is not success)")
    if data.get("resultType") != "streams":
        raise FetchError(f"loki answered resultType {data.get('resultType')!r}, not streams")
    results = data.get("result")
    if not isinstance(results, list):
        raise FetchError("loki answered without a result list")
    timed: list[tuple[int, LogLine]] = []
    for stream in results:
        if not isinstance(stream, dict):
            continue
        origin = _stream_origin(stream.get("stream"))
        values = stream.get("values")
        for value in values if isinstance(values, list) else []:
            # [ns, line] or [ns, line, structured metadata] (Loki 3)
            if not isinstance(value, list) or len(value) < 2:
                continue
            try:
                ns = int(value[0])
                at = _EPOCH + timedelta(microseconds=ns // 1000)
            except (TypeError, ValueError, OverflowError):
                continue
            timed.append((ns, LogLine(at=at, text=str(value[1]), origin=origin)))
    timed.sort(key=lambda pair: pair[0])  # streams interleave; one timeline, oldest first
    lines = [line for _, line in timed]
    return Fetched(lines=lines, facts={"count": len(lines), "streams": len(results)})
