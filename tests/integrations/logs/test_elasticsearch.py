"""logs.elasticsearch against a loopback Elasticsearch / OpenSearch _search endpoint."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from pydantic import ValidationError

from integrations.logs import LOG_BACKENDS, format_line
from integrations.logs.base import FetchError, HttpCall
from integrations.logs.elasticsearch import (
    ElasticsearchArgs,
    ElasticsearchBackend,
    ElasticsearchConnection,
)
from tests.integrations.logs.support import NOW, plan_and_fetch
from tests.support.loopback_http import RecordedRequest, Reply, start

API_KEY = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="
ARGS = {"connection": "es", "term": {"service.name": "api"}, "match": "error", "limit": 200}
EXPECTED_BODY = {
    "size": 200,
    "sort": [{"@timestamp": "desc"}],
    "_source": ["@timestamp", "message", "log.level", "service.name"],
    "query": {
        "bool": {
            "filter": [
                {"range": {"@timestamp": {"gte": "2026-12-06T10:00:00.000Z",
                                          "lt": "2026-12-06T10:30:00.000Z"}}},
                {"term": {"service.name": "api"}},
            ],
            "must": [{"match": {"message": "error"}}],
        }
    },
}  # fmt: skip


def hits_answer(hits: list[dict[str, Any]], total: Any = None) -> dict[str, Any]:
    return {
        "took": 3,
        "timed_out": False,
        "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
        "hits": {
            "total": total if total is not None else {"value": len(hits), "relation": "eq"},
            "max_score": None,
            "hits": [
                {"_index": index, "_id": str(i), "_score": None, "_source": source, "sort": [i]}
                for i, (index, source) in enumerate((h["_index"], h["_source"]) for h in hits)
            ],
        },
    }


def test_search_request_and_hits_oldest_first() -> None:
    def es(request: RecordedRequest) -> Reply:
        assert request.method == "POST" and request.path == "/logs-*/_search"
        assert request.headers["authorization"] == f"ApiKey {API_KEY}"
        assert request.headers["content-type"] == "application/json"
        assert request.json() == EXPECTED_BODY
        # newest first, as sorted; ECS nested and flat dotted fields both occur
        return Reply.json(
            hits_answer(
                [
                    {"_index": ".ds-logs-api-2026.12.06-000001", "_source": {
                        "@timestamp": "2026-12-06T10:29:59.500Z", "message": "error two",
                        "log": {"level": "error"}}},
                    {"_index": ".ds-logs-api-2026.12.06-000001", "_source": {
                        "@timestamp": "2026-12-06T10:10:00Z", "message": "error one",
                        "log.level": "warn"}},
                    {"_index": "logs-old", "_source": {"@timestamp": "bad", "other": 1}},
                ],
                total={"value": 10000, "relation": "gte"},
            )
        )  # fmt: skip

    with start(es) as server:
        conn = {"type": "elasticsearch", "url": server.base_url, "api_key": API_KEY,
                "allow_private": True}  # fmt: skip
        fetched = plan_and_fetch(LOG_BACKENDS["elasticsearch"], ARGS, conn)
    assert [format_line(line) for line in fetched.lines] == [
        'logs-old {"@timestamp": "bad", "other": 1}',
        "2026-12-06T10:10:00.000Z .ds-logs-api-2026.12.06-000001 WARN error one",
        "2026-12-06T10:29:59.500Z .ds-logs-api-2026.12.06-000001 ERROR error two",
    ]
    assert fetched.facts == {"count": 3, "total": 10000, "total_exact": False}


def test_opensearch_with_basic_auth_index_override_and_int_total() -> None:
    def opensearch(request: RecordedRequest) -> Reply:
        assert request.path == "/app-*,-app-debug/_search"
        expected = base64.b64encode(b"admin:s3cret").decode()
        assert request.headers["authorization"] == f"Basic {expected}"
        body = request.json()
        assert body["size"] == 50 and "must" not in body["query"]["bool"]
        assert body["query"]["bool"]["filter"][1:] == [
            {"term": {"kubernetes.namespace": "shop"}},
            {"term": {"level": "500"}},
        ]
        return Reply.json(hits_answer([], total=0))

    with start(opensearch) as server:
        conn = {"type": "elasticsearch", "flavor": "opensearch", "url": server.base_url,
                "username": "admin", "password": "s3cret", "allow_private": True}  # fmt: skip
        args = {"connection": "es", "term": {"kubernetes.namespace": "shop", "level": 500},
                "limit": 50, "index": "app-*,-app-debug"}  # fmt: skip
        fetched = plan_and_fetch(LOG_BACKENDS["elasticsearch"], args, conn)
    assert fetched.lines == [] and fetched.facts == {"count": 0, "total": 0, "total_exact": True}


@pytest.mark.parametrize(
    "index", ["../_cluster/settings", "logs/x", "Logs", "a b", "-logs", "..", "logs?x", "a#b", ""]
)
def test_index_names_that_could_change_the_path_are_refused(index: str) -> None:
    with pytest.raises(ValidationError, match="index"):
        ElasticsearchArgs.model_validate({**ARGS, "index": index})


def test_index_is_one_percent_encoded_segment() -> None:
    conn = ElasticsearchConnection(type="elasticsearch", url="http://es", index="remote:logs+x-*")
    call = ElasticsearchBackend().plan(ElasticsearchArgs.model_validate(ARGS), conn, NOW)
    assert isinstance(call, HttpCall) and call.path == "/remote%3Alogs%2Bx-*/_search"


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"term": {"a b": "x"}}, "not a field name"),
        ({"term": {'a"': "x"}}, "not a field name"),
        ({"match": ""}, "match"),
        ({"limit": 10001}, "limit"),
        ({"since": "0s"}, "between 1s and 30d"),
    ],
)
def test_bad_args_are_refused(change: dict[str, Any], where: str) -> None:
    with pytest.raises(ValidationError, match=where):
        ElasticsearchArgs.model_validate({**ARGS, **change})


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"api_key": "k", "username": "u", "password": "p"}, "either api_key or username"),
        ({"api_key": "k", "flavor": "opensearch"}, "OpenSearch has no API keys"),
        ({"flavor": "solr"}, "flavor"),
    ],
)
def test_bad_connections_are_refused(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ElasticsearchConnection.model_validate(
            {"type": "elasticsearch", "url": "http://es", **extra}
        )


def test_an_error_answer_names_the_flavor_and_hides_the_key() -> None:
    error = {"error": {"type": "security_exception", "reason": f"bad key {API_KEY}"}, "status": 401}
    with start(lambda _: Reply.json(error, 401)) as server:
        conn = {"type": "elasticsearch", "url": server.base_url, "api_key": API_KEY,
                "allow_private": True}  # fmt: skip
        with pytest.raises(FetchError) as caught:
            plan_and_fetch(LOG_BACKENDS["elasticsearch"], ARGS, conn)
    assert "elasticsearch answered HTTP 401" in str(caught.value)
    assert "security_exception" in str(caught.value) and API_KEY not in str(caught.value)

    with start(lambda _: Reply.json(error, 401)) as server:
        conn = {"type": "elasticsearch", "url": server.base_url, "flavor": "opensearch",
                "username": "reader", "password": API_KEY, "allow_private": True}  # fmt: skip
        with pytest.raises(FetchError) as caught:
            plan_and_fetch(LOG_BACKENDS["elasticsearch"], ARGS, conn)
    assert "opensearch answered HTTP 401" in str(caught.value)
    assert API_KEY not in str(caught.value)


def test_dry_run_shows_the_body_and_masks_the_key() -> None:
    backend = ElasticsearchBackend()
    conn = ElasticsearchConnection(type="elasticsearch", url="https://es.example", api_key=API_KEY)
    shown = backend.describe(backend.plan(ElasticsearchArgs.model_validate(ARGS), conn, NOW), conn)
    assert shown == {
        "method": "POST",
        "url": "https://es.example/logs-*/_search",
        "headers": {"Accept": "application/json", "Authorization": "***"},
        "body": EXPECTED_BODY,
    }
