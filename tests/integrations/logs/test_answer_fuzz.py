"""Whatever a log store answers (any JSON of any shape, any status, nesting past the
parser's depth), the backends give lines or a FetchError saying what was wrong: never
another exception. journalctl's output, any lines, the same."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from integrations.logs import LOG_BACKENDS
from integrations.logs.base import Fetched, FetchError
from integrations.logs.journald import parse_output
from tests.integrations.logs.support import plan_and_fetch
from tests.support.json_strategies import json_values
from tests.support.loopback_http import LoopbackServer, RecordedRequest, Reply, start

KEYS = st.sampled_from(
    ["status", "data", "result", "resultType", "stream", "values", "hits", "_source", "_index",
     "@timestamp", "message", "log", "level", "id", "eventID", "title", "dateCreated", "entries",
     "type", "stacktrace", "frames", "inApp", "filename", "lineNo", "tags", "key", "value",
     "MESSAGE", "PRIORITY", "__REALTIME_TIMESTAMP", "_SYSTEMD_UNIT", "SYSLOG_IDENTIFIER",
     "exception", "total", "error", "contexts", "user"]
)  # fmt: skip
JSON = json_values(
    KEYS, "success", "streams", "matrix", "exception", "3", "9" * 30, "\xb2",
    "1796553000000000000", "2026-12-06T10:10:00Z", "99999-01-01T00:00:00Z", "-1",
)  # fmt: skip
# Answers shaped like each store's, with anything at every place a parser reads.
LOKI = st.fixed_dictionaries(
    {"status": st.just("success"), "data": st.fixed_dictionaries({
        "resultType": st.just("streams"),
        "result": st.lists(st.fixed_dictionaries({"stream": JSON, "values": JSON | st.lists(
            st.lists(JSON, max_size=3), max_size=3)}) | JSON, max_size=3)})},
)  # fmt: skip
ES = st.fixed_dictionaries(
    {"hits": st.fixed_dictionaries({"hits": st.lists(st.fixed_dictionaries(
        {"_source": JSON | st.dictionaries(KEYS, JSON, max_size=4)}, optional={"_index": JSON}
    ) | JSON, max_size=3) | JSON})}
)  # fmt: skip
SENTRY = st.fixed_dictionaries(
    {"id": st.just("9fac2ceed9344f2bbfdd1fdacb0ed9b1")},
    optional={
        "entries": st.lists(st.fixed_dictionaries({
            "type": st.sampled_from(["exception", "breadcrumbs", "message"]),
            "data": st.fixed_dictionaries({"values": st.lists(st.fixed_dictionaries(
                {}, optional={"type": JSON, "value": JSON, "stacktrace": st.fixed_dictionaries(
                    {"frames": st.lists(st.dictionaries(KEYS, JSON, max_size=4), max_size=3) | JSON}
                ) | JSON, "message": JSON, "timestamp": JSON, "category": JSON, "level": JSON},
            ) | JSON, max_size=3) | JSON}) | JSON}) | JSON, max_size=3) | JSON,
        "tags": st.lists(st.dictionaries(KEYS, JSON, max_size=3), max_size=3) | JSON,
        "dateCreated": JSON, "title": JSON, "message": JSON, "eventID": JSON,
    },
)  # fmt: skip
JOURNAL_ENTRY = st.dictionaries(
    st.sampled_from(
        ["MESSAGE", "PRIORITY", "__REALTIME_TIMESTAMP", "_SYSTEMD_UNIT", "SYSLOG_IDENTIFIER"]
    ),
    JSON,
)  # fmt: skip
DEEP = b"[" * 100_000 + b"]" * 100_000
BODY = (
    (JSON | LOKI | ES | SENTRY).map(lambda value: json.dumps(value).encode())
    | st.binary(max_size=40)
    | st.just(DEEP)
)
FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
ANSWERS: list[tuple[int, bytes]] = []


@pytest.fixture(scope="module")
def far_side() -> Iterator[LoopbackServer]:
    def reply(_request: RecordedRequest) -> Reply:
        status, body = ANSWERS[-1]
        return Reply(status, body, {"Content-Type": "application/json"})

    with start(reply) as server:
        yield server


def setups(url: str) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    base = {"url": url, "allow_private": True}
    return {
        "loki": ({**base, "type": "loki"}, {"connection": "c", "selector": {"app": "api"}}),
        "elasticsearch": (
            {**base, "type": "elasticsearch", "api_key": "k"},
            {"connection": "c", "term": {"service.name": "api"}},
        ),
        "sentry_event": (
            {**base, "type": "sentry", "organization": "acme", "token": "t"},
            {"connection": "c", "issue_id": 4567},
        ),
    }


@FUZZ
@given(
    st.sampled_from([200, 204, 400, 500]),
    BODY,
    st.sampled_from(["loki", "elasticsearch", "sentry_event"]),
)
@example(200, b'{"id": "e1", "entries": 5, "tags": 5}', "sentry_event")
@example(200, b'{"id": "e1", "entries": [{"type": "exception", "data": {"values": '
         b'[{"stacktrace": {"frames": 7}}]}}]}', "sentry_event")  # fmt: skip
@example(200, b'{"status": "success", "data": {"resultType": "streams", "result": '
         b'[{"stream": {}, "values": 3}]}}', "loki")  # fmt: skip
def test_any_answer_is_lines_or_a_fetch_error(
    far_side: LoopbackServer, status: int, body: bytes, name: str
) -> None:
    ANSWERS.append((status, body))
    connection, args = setups(far_side.base_url)[name]
    try:
        fetched = plan_and_fetch(LOG_BACKENDS[name], args, connection)
    except FetchError as exc:
        assert str(exc)
    else:
        assert isinstance(fetched, Fetched)
        assert all(isinstance(line.text, str) for line in fetched.lines)


@FUZZ
@given(
    st.lists(
        (JSON | JOURNAL_ENTRY).map(lambda value: json.dumps(value).encode())
        | st.binary(max_size=30),
        max_size=5,
    )
)
@example([b'{"__REALTIME_TIMESTAMP": "999999999999999999999999"}'])
@example([b'{"__REALTIME_TIMESTAMP": "\\u00b2"}'])
def test_any_journalctl_output_is_lines_or_a_fetch_error(lines: list[bytes]) -> None:
    try:
        parsed = parse_output(b"\n".join(lines))
    except FetchError as exc:
        assert str(exc)
    else:
        assert all(isinstance(line.text, str) for line in parsed)


def test_journalctl_output_nested_past_the_parsers_depth_is_a_fetch_error() -> None:
    with pytest.raises(FetchError):
        parse_output(DEEP)
