"""Nginx body shapes: plain text, JSON objects, arrays and NDJSON, and unparsed lines."""

from __future__ import annotations

import orjson
import pytest

from integrations.sources.nginx import nginx
from tests.integrations.sources.nginx_support import ACCESS, NO_CONN, REFUSED, STDERR, parse
from tests.support.sources import payload_error


def test_text_body_counts_what_it_cannot_parse() -> None:
    body = "\n".join([REFUSED, ACCESS, "", "random junk", NO_CONN, STDERR, "\r"]).encode()
    result = parse(body)
    assert [a.labels["level"] for a in result.alerts] == ["error", "alert", "emerg"]
    assert result.unparsed == 2


def test_invalid_utf8_text_is_not_an_error() -> None:
    result = parse(REFUSED.encode() + b"\n\xff\xfe bad bytes\n")
    assert len(result.alerts) == 1 and result.unparsed == 1


@pytest.mark.parametrize("key", ["line", "message", "log"])
def test_json_object_body(key: str) -> None:
    result = parse(
        orjson.dumps({key: REFUSED, "host": "web1", "timestamp": "2024-01-01T00:00:00Z"})
    )
    assert len(result.alerts) == 1 and result.alerts[0].description == REFUSED


def test_json_array_and_ndjson_bodies() -> None:
    records = [{"message": REFUSED}, {"message": ACCESS}, {"other": 1}, NO_CONN]
    array = parse(orjson.dumps(records), content_type="application/json")
    assert (len(array.alerts), array.unparsed) == (2, 2)
    ndjson = b"\n".join(orjson.dumps(r) for r in records[:3]) + b"\n" + NO_CONN.encode() + b"\n"
    result = parse(ndjson, content_type="application/x-ndjson")
    assert (len(result.alerts), result.unparsed) == (2, 2)


def test_json_record_with_several_lines() -> None:
    result = parse(orjson.dumps({"message": REFUSED + "\n" + NO_CONN}))
    assert len(result.alerts) == 2


def test_text_starting_with_a_bracket_is_text() -> None:
    body = REFUSED[len("2024/02/29 23:59:58 ") :].encode()
    assert body.startswith(b"[error]")
    assert len(parse(body).alerts) == 1


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"42", "body"),
        (b'"text"', "body"),
        (b'{"message": 5}', "message"),
        (b'[{"line": "x"}, {"line": null}]', "records[1].line"),
        (b"[1]", "records[0]"),
        (b'{"message": "x"}\n{"message": []}\n', "records[1].message"),
    ],
)
def test_wrong_json_shapes_name_the_field(raw: bytes, field: str) -> None:
    error = payload_error(nginx, raw, {"content-type": "application/json"})
    assert (error.field, error.status_code) == (field, 422)


def test_plain_text_body_that_looks_like_a_json_scalar_is_a_line() -> None:
    assert (parse(b"42").alerts, parse(b"42").unparsed) == ([], 1)
