"""logs.elasticsearch: recent documents from Elasticsearch or OpenSearch (POST /{index}/_search).

Values go only into `term` and `match` JSON strings (never `query_string`), so the
query's structure is fixed by the step and alert text cannot widen it. The index is one
percent-encoded path segment.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal, Self
from urllib.parse import quote

from pydantic import AfterValidator, Field, model_validator

from integrations.connections import ConnectionBase, HttpConnection
from integrations.logs.base import Call, Fetched, FetchError, HttpCall, LogArgs, LogLine
from integrations.logs.http_support import (
    BasicAuthConnection,
    HttpJsonBackend,
    QueryText,
    Since,
    dig,
    iso_millis,
    parse_time,
)
from routing.basics.field import Secret

MAX_SIZE = 10_000  # index.max_result_window's default
TIMESTAMP = "@timestamp"
MESSAGE = "message"
LEVEL = "log.level"
_FIELD = re.compile(r"[A-Za-z0-9@_][A-Za-z0-9@_.\-]*")
# One index, pattern or exclusion of a comma-separated list (lower case, no path characters).
_INDEX_PART = re.compile(r"-?[a-z0-9*.][a-z0-9_.*+:\-]*")
_UNTIMED_TEXT = 1000  # characters of a document without `message` worth showing


def _index(value: str) -> str:
    parts = value.split(",")
    for part in parts:
        if not _INDEX_PART.fullmatch(part) or part.lstrip("-") in (".", ".."):
            raise ValueError(
                f'"{value}" is not an index name or pattern (lower case, * and , allowed)'
            )
    if parts[0].startswith("-"):
        raise ValueError(f'"{value}" starts with an exclusion')
    return value


IndexPattern = Annotated[str, AfterValidator(_index)]


def _fields(terms: dict[str, str]) -> dict[str, str]:
    for name in terms:
        if not _FIELD.fullmatch(name):
            raise ValueError(f'"{name}" is not a field name')
    return terms


class ElasticsearchConnection(BasicAuthConnection):
    type: Literal["elasticsearch"]
    index: IndexPattern = "logs-*"
    api_key: Secret | None = None  # the base64 "id:key" value Elasticsearch returns as `encoded`
    flavor: Literal["elasticsearch", "opensearch"] = "elasticsearch"

    @model_validator(mode="after")
    def _one_credential(self) -> Self:
        if self.api_key is not None and self.username is not None:
            raise ValueError("give either api_key or username+password, not both")
        if self.api_key is not None and self.flavor == "opensearch":
            raise ValueError("OpenSearch has no API keys: use username+password")
        return self

    def auth_headers(self) -> dict[str, str]:
        if self.api_key is not None:
            return {"Authorization": f"ApiKey {self.api_key}"}
        return self._basic()


class ElasticsearchArgs(LogArgs):
    term: Annotated[dict[str, QueryText], AfterValidator(_fields)] = Field(default_factory=dict)
    match: QueryText | None = Field(default=None, min_length=1)  # full text on `message`
    since: Since = timedelta(minutes=30)
    limit: int = Field(default=200, ge=1, le=MAX_SIZE)
    index: IndexPattern | None = None  # the connection's index unless given


def search_body(args: ElasticsearchArgs, now: datetime) -> dict[str, Any]:
    """The _search body: newest `limit` documents in the window that match every term."""
    window = {"gte": iso_millis(now - args.since), "lt": iso_millis(now)}
    filters: list[dict[str, Any]] = [{"range": {TIMESTAMP: window}}]
    filters += [{"term": {name: value}} for name, value in args.term.items()]
    query: dict[str, Any] = {"filter": filters}
    if args.match is not None:
        query["must"] = [{"match": {MESSAGE: args.match}}]
    return {
        "size": args.limit,
        "sort": [{TIMESTAMP: "desc"}],
        "_source": [TIMESTAMP, MESSAGE, LEVEL, *args.term],
        "query": {"bool": query},
    }


class ElasticsearchBackend(HttpJsonBackend):
    name: ClassVar[str] = "elasticsearch"
    connection_model: ClassVar[type[ConnectionBase]] = ElasticsearchConnection
    args_model: ClassVar[type[LogArgs]] = ElasticsearchArgs

    def plan(
        self, args: ElasticsearchArgs, connection: ElasticsearchConnection, now: datetime
    ) -> Call:
        index = args.index or connection.index
        return HttpCall(
            method="POST",
            path=f"/{quote(index, safe='*,')}/_search",
            json=search_body(args, now),
            headers=(("Accept", "application/json"),),
        )

    def answerer(self, connection: HttpConnection) -> str:
        assert isinstance(connection, ElasticsearchConnection)
        return connection.flavor  # "opensearch answered HTTP 401"

    def parse(self, answer: Any) -> Fetched:
        return parse_hits(answer)


def _hit_line(hit: dict[str, Any]) -> LogLine:
    source = hit.get("_source")
    source = source if isinstance(source, dict) else {}
    message = dig(source, MESSAGE)
    if isinstance(message, list):  # a multi-valued field
        message = " ".join(str(part) for part in message)
    if message is None:
        text = json.dumps(source, ensure_ascii=False, default=str)[:_UNTIMED_TEXT]
    else:
        text = str(message)
    level = dig(source, LEVEL)
    if isinstance(level, str) and level:
        text = f"{level.upper()} {text}"
    return LogLine(
        at=parse_time(dig(source, TIMESTAMP)), text=text, origin=str(hit.get("_index", ""))
    )


def parse_hits(answer: Any) -> Fetched:
    """A _search answer -> lines, oldest first (the query sorts newest first)."""
    hits = answer.get("hits") if isinstance(answer, dict) else None
    if not isinstance(hits, dict) or not isinstance(hits.get("hits"), list):
        error = answer.get("error") if isinstance(answer, dict) else None
        raise FetchError(f"search answered without hits{': ' + str(error)[:300] if error else ''}")
    lines = [_hit_line(hit) for hit in hits["hits"] if isinstance(hit, dict)]
    lines.reverse()
    total = hits.get("total")
    facts: dict[str, Any] = {"count": len(lines)}
    if isinstance(total, dict):  # {"value": n, "relation": "eq" | "gte"}
        facts["total"] = total.get("value")
        facts["total_exact"] = total.get("relation") == "eq"
    elif isinstance(total, int):  # OpenSearch 1 with rest_total_hits_as_int, ES 6
        facts["total"], facts["total_exact"] = total, True
    if answer.get("timed_out") is True:
        facts["timed_out"] = True
    return Fetched(lines=lines, facts=facts)
