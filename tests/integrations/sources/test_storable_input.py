"""The edge makes every source's values storable on both databases: NUL and lone
surrogates become U+FFFD (one rule, routing.basics.storable), and a service too long for
its column refuses that one alert, naming the field it was read from."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integrations.sources import SOURCES, PayloadError, SourceOptions
from integrations.sources.base import AlertRefused
from integrations.sources.payload import decode_json
from routing.basics.storable import FIELD_LIMITS, bounded_key, storable_text
from tests.integrations.sources.sentry_support import issue_payload
from tests.integrations.sources.sentry_support import parse as parse_sentry
from tests.integrations.sources.test_sentry_metric_alerts import metric_payload

NO_OPTIONS = SourceOptions()
LONG = "s" * (FIELD_LIMITS["service"] + 1)


def test_nul_and_lone_surrogates_become_the_replacement_character() -> None:
    assert storable_text("a\x00b") == "a\ufffdb"
    assert storable_text("\ud800x\udfff") == "\ufffdx\ufffd"
    plain = "🔥 \u202eevil e\u0301"
    assert storable_text(plain) is plain  # untouched, not even copied


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.characters(categories=["Cs", "Cc", "Ll", "So", "Mn"])))
def test_exactly_nul_and_surrogates_are_replaced(text: str) -> None:
    unstorable = {"\x00"} | {chr(c) for c in range(0xD800, 0xE000)}
    expected = "".join("\ufffd" if char in unstorable else char for char in text)
    assert storable_text(text) == expected


def test_json_strings_and_keys_are_storable_after_decoding() -> None:
    body = b'{"a\\u0000b": ["x\\u0000", {"k": "\\ud800"}], "ok": "\\ud83d\\ude00", "n": 1}'
    assert decode_json(body) == {"a\ufffdb": ["x\ufffd", {"k": "\ufffd"}], "ok": "😀", "n": 1}


@pytest.mark.parametrize(
    "raw",
    [b"NaN", b'{"x": Infinity}', b"[1e400]", b'"\xff"', b"[" * 100_000, b"{"],
)
def test_what_the_lenient_reading_still_refuses(raw: bytes) -> None:
    with pytest.raises(PayloadError) as caught:
        decode_json(raw)
    assert (caught.value.field, caught.value.status_code) == ("body", 400)


@settings(max_examples=200, deadline=None)
@given(value=st.recursive(st.text() | st.integers() | st.none(), lambda inner: st.lists(inner)))
def test_any_json_value_decodes_to_its_storable_self(value: object) -> None:
    body = json.dumps(value, ensure_ascii=True).encode()
    decoded = decode_json(body)
    orjson.dumps(decoded)  # no lone surrogate is left: it encodes as UTF-8
    assert "\x00" not in json.dumps(decoded, ensure_ascii=False)


def am(*alerts: dict[str, object]) -> bytes:
    return orjson.dumps({"alerts": list(alerts)})


def am_alert(**labels: str) -> dict[str, object]:
    return {"status": "firing", "labels": labels}


def test_alertmanager_refuses_only_the_alert_whose_service_is_too_long() -> None:
    result = SOURCES["alertmanager"].parse(
        am(
            am_alert(alertname="A", service="api"),
            am_alert(alertname="B", service=LONG),
            am_alert(alertname="C", job=LONG),
            am_alert(alertname="D", service="s" * FIELD_LIMITS["service"]),
        ),
        {},
        NO_OPTIONS,
    )
    assert [a.labels["alertname"] for a in result.alerts] == ["A", "D"]
    assert [(r.field, r.status_code) for r in result.refused] == [
        ("alerts[1].labels.service", 422),
        ("alerts[2].labels.job", 422),
    ]
    assert "longer than 200 characters (201)" in result.refused[0].message
    assert result.inbox_note() == (
        "refused alerts[1].labels.service: longer than 200 characters (201): too long to store; "
        "refused alerts[2].labels.job: longer than 200 characters (201): too long to store"
    )


def test_a_long_name_mapped_to_a_short_service_is_stored() -> None:
    options = SourceOptions(services={LONG: "api"})
    result = SOURCES["alertmanager"].parse(am(am_alert(alertname="A", job=LONG)), {}, options)
    assert (result.alerts[0].service, result.refused) == ("api", [])


def test_other_wrong_shapes_still_refuse_the_whole_body() -> None:
    bad: dict[str, object] = {"status": "sideways", "labels": {"service": LONG}}
    with pytest.raises(PayloadError) as caught:
        SOURCES["alertmanager"].parse(am(am_alert(alertname="A"), bad), {}, NO_OPTIONS)
    assert not isinstance(caught.value, AlertRefused)
    assert caught.value.field == "alerts[1].status"


@pytest.mark.parametrize(
    ("alert", "field"),
    [
        ({"title": "t", "service": LONG}, "alerts[0].service"),
        ({"title": "t", "labels": {"service": LONG}}, "alerts[0].labels.service"),
    ],
)
def test_generic_names_where_the_service_came_from(alert: dict[str, object], field: str) -> None:
    result = SOURCES["generic"].parse(orjson.dumps({"alerts": [alert]}), {}, NO_OPTIONS)
    assert (result.alerts, [r.field for r in result.refused]) == ([], [field])


def test_a_single_generic_alert_with_a_long_service_raises_the_refusal() -> None:
    with pytest.raises(AlertRefused) as caught:
        SOURCES["generic"].parse(orjson.dumps({"title": "t", "service": LONG}), {}, NO_OPTIONS)
    assert caught.value.field == "service"


def test_sentry_names_the_project_slug() -> None:
    with pytest.raises(AlertRefused) as caught:
        parse_sentry("issue", issue_payload("created", project={"id": "17", "slug": LONG}))
    assert caught.value.field == "data.issue.project.slug"
    with pytest.raises(AlertRefused) as metric:
        rule = {"id": "5", "name": "Checkout error rate", "projects": [LONG]}
        parse_sentry("metric_alert", metric_payload("critical", alert_rule=rule))
    assert metric.value.field == "data.metric_alert.alert_rule.projects[0]"


def test_sentry_nul_in_the_title_is_stored_as_the_replacement_character() -> None:
    (alert,) = parse_sentry("issue", issue_payload("created", title="Key\x00Error")).alerts
    assert alert.title == "Key\ufffdError"


def test_nginx_lines_with_nul_are_storable_in_every_body_shape() -> None:
    line = "2024/03/02 10:00:00 [error] 7#7: *1 connect() failed (111: x\x00y) while connecting"
    for body, content_type in [
        (line.encode(), "text/plain"),
        (orjson.dumps({"message": line}), "application/json"),
        (orjson.dumps([line]), "application/json"),
    ]:
        (alert,) = SOURCES["nginx"].parse(body, {"content-type": content_type}, NO_OPTIONS).alerts
        texts = [alert.title, alert.description, *alert.annotations.values()]
        assert not any("\x00" in t for t in texts), content_type
        assert "x\ufffdy" in alert.description


def test_bounded_keys_keep_short_keys_and_digest_long_ones() -> None:
    assert bounded_key("service=api") == "service=api"
    long_a, long_b = "group=" + "a" * 500, "group=" + "a" * 499 + "b"
    assert len(bounded_key(long_a)) == 400
    assert bounded_key(long_a) != bounded_key(long_b)
    assert bounded_key(long_a) == bounded_key(long_a)


@pytest.mark.parametrize("depth", [600, 1000])
def test_deeply_nested_bodies_are_made_storable_without_recursing(depth: int) -> None:
    body = ('{"a":' * depth + '"\\u0000"' + "}" * depth).encode()
    value = decode_json(body)
    for _ in range(depth):
        value = value["a"]
    assert value == "\ufffd"


def test_a_deeply_nested_wrong_value_is_named_not_a_crash() -> None:
    nested = "[" * 1020 + "]" * 1020
    body = f'{{"alerts": [{{"labels": {{}}, "status": {nested}}}]}}'.encode()
    with pytest.raises(PayloadError) as caught:
        SOURCES["alertmanager"].parse(body, {}, NO_OPTIONS)
    assert caught.value.field == "alerts[0].status"
    assert caught.value.message == "expected firing or resolved, got a deeply nested array"
