"""Alertmanager matcher parsing and matching."""

from __future__ import annotations

import contextlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from routing.muting.matcher import (
    Matcher,
    MatcherError,
    MatcherList,
    MatchType,
    matches,
    parse_matcher,
    parse_matchers,
)


@pytest.mark.parametrize(
    ("text", "name", "kind", "value"),
    [
        ('severity="critical"', "severity", MatchType.EQUAL, "critical"),
        ("severity=critical", "severity", MatchType.EQUAL, "critical"),
        ('  service =~ "api|web" ', "service", MatchType.REGEX, "api|web"),
        ("env!=prod", "env", MatchType.NOT_EQUAL, "prod"),
        ('job!~"node.*"', "job", MatchType.NOT_REGEX, "node.*"),
        ('msg="say \\"hi\\""', "msg", MatchType.EQUAL, 'say "hi"'),
        ('path="a\\\\b"', "path", MatchType.EQUAL, "a\\b"),
        ('line="a\\nb"', "line", MatchType.EQUAL, "a\nb"),
        ('ip=~"10\\.0\\..*"', "ip", MatchType.REGEX, "10\\.0\\..*"),  # spurious escapes kept
        ('empty=""', "empty", MatchType.EQUAL, ""),
        ("empty=", "empty", MatchType.EQUAL, ""),
        ('"dotted.name"="x"', "dotted.name", MatchType.EQUAL, "x"),
        ('a="x,y"', "a", MatchType.EQUAL, "x,y"),
    ],
)
def test_parse_matcher(text: str, name: str, kind: MatchType, value: str) -> None:
    matcher = parse_matcher(text)
    assert (matcher.name, matcher.type, matcher.value) == (name, kind, value)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("severity", "expected one of = != =~ !~"),
        ('="x"', "expected a label name"),
        ("9lives=x", "expected a label name"),
        ('a="open', "missing its closing double quote"),
        ('a="x" y', "unexpected text after the quoted value"),
        ('a=x"y', "unescaped double quote"),
        ('a=~"("', "invalid regex"),
        ('a=="x"', "unescaped double quote"),
        ('""="x"', "empty label name"),
    ],
)
def test_parse_matcher_errors(text: str, error: str) -> None:
    with pytest.raises(MatcherError, match=error):
        parse_matcher(text)


def test_list_form() -> None:
    parsed = parse_matchers('{severity="critical", service=~"api|web", note="a, b",}')
    assert [str(m) for m in parsed] == ['severity="critical"', 'service=~"api|web"', 'note="a, b"']
    assert parse_matchers("{}") == []
    assert parse_matchers("a=b") == [parse_matcher("a=b")]
    with pytest.raises(MatcherError, match="empty matcher"):
        parse_matchers("{a=b,,c=d}")
    with pytest.raises(MatcherError, match="closing brace"):
        parse_matchers('{a="b"')


@pytest.mark.parametrize(
    ("matcher", "labels", "expected"),
    [
        ('severity="critical"', {"severity": "critical"}, True),
        ('severity="critical"', {"severity": "warning"}, False),
        ('severity=""', {}, True),  # a missing label equals ""
        ('severity!=""', {}, False),
        ('severity!="critical"', {}, True),
        ('service=~"api|web"', {"service": "web"}, True),
        ('service=~"api|web"', {"service": "webapp"}, False),  # anchored
        ('service=~"api"', {"service": "api-gw"}, False),  # anchored, no partial match
        ('service=~"api.*"', {"service": "api-gw"}, True),
        ('service!~"api|web"', {"service": "db"}, True),
        ('service!~"api|web"', {"service": "api"}, False),
        ('service=~".*"', {}, True),
        ('service=~".+"', {}, False),
    ],
)
def test_matches_table(matcher: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_matcher(matcher).matches(labels) is expected


def test_all_must_match() -> None:
    both = parse_matchers('{severity="critical", service=~"api|web"}')
    assert matches(both, {"severity": "critical", "service": "api"})
    assert not matches(both, {"severity": "critical", "service": "db"})
    assert matches([], {"anything": "x"})


class _Holder(BaseModel):
    matchers: MatcherList = []


def test_config_field_accepts_strings_and_lists() -> None:
    holder = _Holder.model_validate({"matchers": ['severity="critical"', '{a="b", c=~"d"}']})
    assert [m.name for m in holder.matchers] == ["severity", "a", "c"]
    assert holder.model_dump() == {"matchers": ['severity="critical"', 'a="b"', 'c=~"d"']}
    with pytest.raises(ValidationError) as info:
        _Holder.model_validate({"matchers": ['severity="critical"', 'x=~"("']})
    assert info.value.errors()[0]["loc"] == ("matchers",)
    assert "invalid regex" in str(info.value)


_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True) | st.text(
    st.characters(codec="utf-8"), min_size=1, max_size=10
)
_values = st.text(st.characters(codec="utf-8"), max_size=20)


@given(_names, st.sampled_from(list(MatchType)), _values)
def test_round_trip(name: str, kind: MatchType, value: str) -> None:
    if kind in (MatchType.REGEX, MatchType.NOT_REGEX):
        value = re.escape(value)
    matcher = Matcher(name, kind, value)
    assert parse_matcher(str(matcher)) == matcher
    assert parse_matchers("{" + str(matcher) + ", x=y}") == [
        matcher,
        Matcher("x", MatchType.EQUAL, "y"),
    ]
    if kind is MatchType.REGEX:  # an escaped literal regex matches exactly that text
        assert matcher.matches({name: re.sub(r"\\(.)", r"\1", value, flags=re.S)})


@given(st.text(max_size=40))
def test_parser_never_crashes(text: str) -> None:
    with contextlib.suppress(MatcherError):
        parse_matchers(text)
