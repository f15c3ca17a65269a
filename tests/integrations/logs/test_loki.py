"""logs.loki against a loopback Loki speaking the query_range wire format."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from pydantic import ValidationError

from integrations.logs import LOG_BACKENDS, format_line
from integrations.logs.base import FetchError, HttpCall
from integrations.logs.loki import LokiArgs, LokiBackend, LokiConnection, logql_query
from tests.integrations.logs.support import NOW, NOW_NS, plan_and_fetch
from tests.support.loopback_http import RecordedRequest, Reply, start

TOKEN = "glc_secret-token-value"
ARGS = {"connection": "loki", "selector": {"app": "api", "env": "prod"}, "contains": "error"}
MINUTE_NS = 60 * 10**9


def streams_answer(*streams: tuple[dict[str, str], list[tuple[int, str]]]) -> dict[str, Any]:
    return {
        "status": "success",
        "data": {
            "resultType": "streams",
            "result": [
                {"stream": labels, "values": [[str(ns), line] for ns, line in values]}
                for labels, values in streams
            ],
            "stats": {"summary": {"totalEntriesReturned": 3}},
        },
    }


def test_query_range_request_and_lines_oldest_first() -> None:
    t0 = NOW_NS - 5 * MINUTE_NS

    def loki(request: RecordedRequest) -> Reply:
        assert request.method == "GET" and request.path == "/loki/api/v1/query_range"
        assert request.query == {
            "query": ['{app="api",env="prod"} |= "error"'],
            "start": [str(NOW_NS - 30 * MINUTE_NS)],
            "end": [str(NOW_NS)],
            "limit": ["200"],
            "direction": ["backward"],
        }
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.headers["x-scope-orgid"] == "tenant-a"
        # backward: newest first within each stream; streams interleave in time
        return Reply.json(
            streams_answer(
                ({"app": "api", "pod": "a"}, [(t0 + 3_000_000_000, "error c"), (t0, "error a")]),
                ({"app": "api", "pod": "b"}, [(t0 + 1_123_000_000, "error b")]),
            )
        )

    with start(loki) as server:
        conn = {"type": "loki", "url": server.base_url, "allow_private": True, "token": TOKEN,
                "org_id": "tenant-a"}  # fmt: skip
        fetched = plan_and_fetch(LOG_BACKENDS["loki"], ARGS, conn)
    assert [format_line(line) for line in fetched.lines] == [
        '2026-12-06T10:25:00.000Z {app="api",pod="a"} error a',
        '2026-12-06T10:25:01.123Z {app="api",pod="b"} error b',
        '2026-12-06T10:25:03.000Z {app="api",pod="a"} error c',
    ]
    assert fetched.facts == {"count": 3, "streams": 2}


def test_basic_auth_and_window_and_limit() -> None:
    def loki(request: RecordedRequest) -> Reply:
        expected = base64.b64encode(b"reader:pa:ss").decode()
        assert request.headers["authorization"] == f"Basic {expected}"
        assert "x-scope-orgid" not in request.headers
        assert request.query["query"] == ['{job="varlogs"}']
        assert request.query["start"] == [str(NOW_NS - 2 * 3600 * 10**9)]
        assert request.query["limit"] == ["5000"]
        return Reply.json(streams_answer())

    with start(loki) as server:
        conn = {"type": "loki", "url": server.base_url + "/gateway", "allow_private": True,
                "username": "reader", "password": "pa:ss"}  # fmt: skip
        args = {"connection": "loki", "selector": {"job": "varlogs"}, "since": "2h", "limit": 5000}
        fetched = plan_and_fetch(LOG_BACKENDS["loki"], args, conn)
    assert server.requests[0].path == "/gateway/loki/api/v1/query_range"
    assert fetched.lines == [] and fetched.facts["count"] == 0


def test_values_are_escaped_as_logql_strings() -> None:
    args = LokiArgs.model_validate(
        {"connection": "l", "selector": {"app": 'a"} or {job=~".+'}, "contains": 'x\\"\n|= "y'}
    )
    assert logql_query(args) == r'{app="a\"} or {job=~\".+"} |= "x\\\"\n|= \"y"'
    call = LokiBackend().plan(args, LokiConnection(type="loki", url="http://l"), NOW)
    assert isinstance(call, HttpCall) and dict(call.query)["query"] == logql_query(args)
    control = LokiArgs.model_validate({"connection": "l", "selector": {"a": "\x00\x1b\x7f\t"}})
    assert logql_query(control) == r'{a="\u0000\u001b\u007f\t"}'


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"selector": {}}, "at least one label"),
        ({"selector": {"app-name": "x"}}, "not a valid Loki label name"),
        ({"selector": {"1app": "x"}}, "not a valid Loki label name"),
        ({"selector": {"app": ""}}, "empty value"),
        # pydantic before 2.10 refuses a lone surrogate itself, with its own words
        ({"selector": {"app": "\ud800"}}, "not valid Unicode|unicode string"),
        ({"contains": ""}, "contains"),
        ({"limit": 5001}, "limit"),
        ({"limit": 0}, "limit"),
        ({"since": "31d"}, "between 1s and 30d"),
        ({"since": "soon"}, "invalid duration"),
        ({"url": "x"}, "url"),
    ],
)
def test_bad_args_are_refused(change: dict[str, Any], where: str) -> None:
    with pytest.raises(ValidationError, match=where):
        LokiArgs.model_validate({**ARGS, **change})


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"token": "t", "username": "u", "password": "p"}, "either token or username"),
        ({"username": "u"}, "username and password go together"),
        ({"password": "p"}, "username and password go together"),
        ({"token": " t"}, "whitespace"),
        ({"url": "http://user:pw@loki:3100"}, "must not carry credentials"),
    ],
)
def test_bad_connections_are_refused(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        LokiConnection.model_validate({"type": "loki", "url": "http://loki:3100", **extra})


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply.text("parse error at line 1, col 7: syntax error", 400),
         "loki answered HTTP 400: parse error at line 1"),
        (Reply.text(f"bad token {TOKEN}", 401), "loki answered HTTP 401: bad token ***"),
        (Reply.json({"status": "success", "data": {"resultType": "matrix", "result": []}}),
         "resultType 'matrix', not streams"),
        (Reply.json({"status": "error", "error": "x"}), "status is not success"),
        (Reply.text("<html>gateway</html>"), "with no JSON"),
    ],
)  # fmt: skip
def test_answers_that_are_not_logs_fail_clearly(reply: Reply, message: str) -> None:
    with start(lambda _: reply) as server:
        conn = {"type": "loki", "url": server.base_url, "allow_private": True, "token": TOKEN}
        with pytest.raises(FetchError) as caught:
            plan_and_fetch(LOG_BACKENDS["loki"], ARGS, conn)
    assert message in str(caught.value) and TOKEN not in str(caught.value)


def test_a_refused_address_is_a_fetch_error() -> None:
    conn = {"type": "loki", "url": "http://127.0.0.1:9", "token": TOKEN}
    with pytest.raises(FetchError, match=r"loki: 127\.0\.0\.1 is a loopback address"):
        plan_and_fetch(LOG_BACKENDS["loki"], ARGS, conn)


def test_dry_run_shows_the_request_with_credentials_masked() -> None:
    backend = LokiBackend()
    conn = LokiConnection(type="loki", url="https://logs.example", token=TOKEN, org_id="t")
    call = backend.plan(LokiArgs.model_validate(ARGS), conn, NOW)
    shown = backend.describe(call, conn)
    assert shown["method"] == "GET"
    assert shown["url"].startswith("https://logs.example/loki/api/v1/query_range?query=%7Bapp")
    assert shown["headers"] == {
        "Accept": "application/json",
        "X-Scope-OrgID": "t",
        "Authorization": "***",
    }
    assert TOKEN not in repr(shown)
