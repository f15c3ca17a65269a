"""No value from an alert can change the structure of a LogQL or Elasticsearch query.

The LogQL side reads the produced query back with an independent tokenizer that follows
Go's string-literal rules (LogQL strings are Go strings) and checks that the selector
has exactly the input labels and the filter exactly the input text. The Elasticsearch
side checks the body equals a fixed shape with the values only as JSON strings.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from integrations.logs.base import HttpCall
from integrations.logs.elasticsearch import (
    ElasticsearchArgs,
    ElasticsearchBackend,
    ElasticsearchConnection,
)
from integrations.logs.loki import LokiArgs, LokiBackend, LokiConnection
from integrations.outbound import full_url
from tests.integrations.logs.support import NOW

_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
                   "v": "\v", "\\": "\\", '"': '"'}  # fmt: skip
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Tokens:
    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0

    def expect(self, literal: str) -> None:
        assert self.text.startswith(literal, self.pos), (literal, self.text[self.pos :])
        self.pos += len(literal)

    def name(self) -> str:
        match = _NAME.match(self.text, self.pos)
        assert match, self.text[self.pos :]
        self.pos = match.end()
        return match.group()

    def string(self) -> str:
        """A Go interpreted string literal: ends at the first unescaped quote; no raw newline."""
        self.expect('"')
        out: list[str] = []
        while True:
            char = self.text[self.pos]
            self.pos += 1
            assert char != "\n", "raw newline inside a string literal"
            if char == '"':
                return "".join(out)
            if char != "\\":
                out.append(char)
                continue
            kind = self.text[self.pos]
            self.pos += 1
            if kind in _SIMPLE_ESCAPES:
                out.append(_SIMPLE_ESCAPES[kind])
            elif kind in "xuU":
                width = {"x": 2, "u": 4, "U": 8}[kind]
                out.append(chr(int(self.text[self.pos : self.pos + width], 16)))
                self.pos += width
            else:
                raise AssertionError(f"invalid escape \\{kind}")

    def at_end(self) -> bool:
        return self.pos == len(self.text)


def parse_logql(query: str) -> tuple[dict[str, str], str | None]:
    """{name="value",...} optionally followed by |= "text"; nothing else is accepted."""
    tokens = Tokens(query)
    tokens.expect("{")
    labels: dict[str, str] = {}
    while True:
        name = tokens.name()
        tokens.expect("=")
        assert name not in labels
        labels[name] = tokens.string()
        if tokens.text.startswith("}", tokens.pos):
            tokens.expect("}")
            break
        tokens.expect(",")
    contains = None
    if not tokens.at_end():
        tokens.expect(" |= ")
        contains = tokens.string()
    assert tokens.at_end(), tokens.text[tokens.pos :]
    return labels, contains


label_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True)
values = st.text(min_size=1, max_size=40)
hostile = st.sampled_from(['a"} or {job=~".+', '"}|~".*', "\\", '\\"', "x\n}", "`", "{", ""])
label_values = st.one_of(values, st.builds(str.__add__, hostile, values))


@settings(max_examples=300, deadline=None)
@given(
    selector=st.dictionaries(label_names, label_values, min_size=1, max_size=5),
    contains=st.none() | label_values,
)
def test_logql_query_keeps_its_structure(selector: dict[str, str], contains: str | None) -> None:
    args = LokiArgs.model_validate({"connection": "l", "selector": selector, "contains": contains})
    call = LokiBackend().plan(args, LokiConnection(type="loki", url="http://loki:3100"), NOW)
    assert isinstance(call, HttpCall)
    query = dict(call.query)["query"]
    assert parse_logql(query) == (selector, contains)
    # And what goes over the wire is that same query, intact after URL encoding.
    sent = parse_qs(urlsplit(full_url(LokiConnection(type="loki", url="http://l"), call)).query)
    assert sent["query"] == [query] and sent["direction"] == ["backward"]


field_names = st.from_regex(r"[A-Za-z@_][A-Za-z0-9@_.\-]{0,15}", fullmatch=True)


def expected_body(terms: dict[str, str], match: str | None) -> dict[str, Any]:
    query: dict[str, Any] = {
        "filter": [
            {"range": {"@timestamp": {"gte": "2026-12-06T10:00:00.000Z",
                                      "lt": "2026-12-06T10:30:00.000Z"}}},
            *({"term": {name: value}} for name, value in terms.items()),
        ]
    }  # fmt: skip
    if match is not None:
        query["must"] = [{"match": {"message": match}}]
    return {
        "size": 200,
        "sort": [{"@timestamp": "desc"}],
        "_source": ["@timestamp", "message", "log.level", *terms],
        "query": {"bool": query},
    }


@settings(max_examples=300, deadline=None)
@given(
    terms=st.dictionaries(field_names, label_values, max_size=4),
    match=st.none() | label_values,
)
def test_elasticsearch_body_has_a_fixed_shape(terms: dict[str, str], match: str | None) -> None:
    args = ElasticsearchArgs.model_validate({"connection": "es", "term": terms, "match": match})
    conn = ElasticsearchConnection(type="elasticsearch", url="http://es:9200")
    call = ElasticsearchBackend().plan(args, conn, NOW)
    assert isinstance(call, HttpCall)
    assert call.method == "POST" and call.path == "/logs-*/_search" and call.query == ()
    assert call.json == expected_body(terms, match)
    # The body survives JSON encoding unchanged: values stay strings, never query syntax.
    assert json.loads(json.dumps(call.json)) == call.json
