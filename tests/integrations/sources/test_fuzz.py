"""Fuzzing every source: any input gives a ParseResult or a PayloadError, nothing else."""

from __future__ import annotations

import copy
import re
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations.sources import SOURCES, ParseResult, PayloadError, Source, SourceOptions
from integrations.sources.nginx_line import parse_error_line
from integrations.sources.nginx_template import message_template
from integrations.sources.sentry_signature import verify_sentry_signature
from routing.intake.alert import Alert, AlertStatus, Severity

OPTIONS = SourceOptions(services={"api": "svc", "checkout": "shop", "17": "numbered", "_": "x"})
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HEX32 = re.compile(r"[0-9a-f]{32}")
SENTRY_RESOURCES = [
    "issue",
    "event_alert",
    "metric_alert",
    "error",
    "installation",
    "comment",
    "seer",
    "",
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)

# Valid seeds, written for these tests; mutations of them reach deep validation paths.
SEEDS: dict[str, list[Any]] = {
    "alertmanager": [
        {
            "version": "4",
            "status": "firing",
            "groupKey": "{}:{}",
            "truncatedAlerts": 2,
            "receiver": "r",
            "alerts": [
                {
                    "status": "firing",
                    "labels": {"alertname": "A", "service": "api", "severity": "page"},
                    "annotations": {"summary": "s"},
                    "startsAt": "2024-01-01T00:00:00.123456789Z",
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://p",
                    "fingerprint": "0123456789abcdef",
                }
            ],
        }
    ],
    "sentry": [
        {
            "action": "created",
            "data": {
                "issue": {
                    "id": "1",
                    "title": "t",
                    "level": "fatal",
                    "firstSeen": "2024-01-01T00:00:00Z",
                    "project": {"id": "17", "slug": "checkout"},
                    "assignedTo": {"name": "n"},
                }
            },
        },
        {
            "action": "triggered",
            "data": {
                "event": {
                    "issue_id": 5,
                    "project": 17,
                    "timestamp": 1700000000.5,
                    "url": "https://s/api/0/projects/o/checkout/events/e/",
                },
                "issue_alert": {"title": "rule"},
            },
        },
        {
            "action": "open",
            "data": {
                "metric_alert": {
                    "id": "3",
                    "status": 20,
                    "alert_rule": {"id": 4, "projects": ["api"]},
                },
                "description_text": "d",
            },
        },
        {
            "action": "created",
            "data": {"error": {"event_id": "e", "datetime": "2024-01-01T00:00:00Z"}},
        },
    ],
    "sentry-legacy": [
        {
            "id": "9",
            "project_slug": "checkout",
            "level": "error",
            "message": "m",
            "triggering_rules": ["r"],
            "event": {"received": 1525248430},
        }
    ],
    "nginx": [
        {
            "message": "2024/01/01 00:00:00 [error] 1#1: *2 connect() failed"
            " (111: Connection refused) while connecting to upstream, client: 1.2.3.4,"
            ' server: api, request: "GET / HTTP/1.1", upstream: "http://10.0.0.1:80/",'
            ' host: "api"'
        },
        [{"line": "nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address in use)"}, "x"],
    ],
    "generic": [
        {
            "alerts": [
                {
                    "title": "t",
                    "severity": "info",
                    "status": "resolved",
                    "service": "api",
                    "labels": {"a": "b"},
                    "annotations": {"c": "d"},
                    "fingerprint": "f",
                    "starts_at": "2024-01-01T00:00:00Z",
                }
            ]
        }
    ],
}


def check(source: Source, body: bytes, headers: dict[str, str]) -> None:
    """The Source contract, and what every alert must look like."""
    try:
        result = source.parse(body, headers, OPTIONS)
    except PayloadError as error:
        assert error.status_code in (400, 422)
        assert isinstance(error.field, str) and error.field
        return
    assert isinstance(result, ParseResult)
    assert result.unparsed >= 0
    for alert in result.alerts:
        check_alert(alert, source.name)


def check_alert(alert: Alert, source_name: str) -> None:
    assert alert.source == source_name
    assert HEX32.fullmatch(alert.fingerprint)
    assert isinstance(alert.status, AlertStatus) and isinstance(alert.severity, Severity)
    assert alert.labels["service"] == alert.service and alert.service
    assert isinstance(alert.title, str) and alert.title
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in alert.labels.items())
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in alert.annotations.items())
    assert all(isinstance(v, str) for v in alert.fingerprint_fields.values())
    for moment in (alert.starts_at, alert.ends_at):
        if moment is not None:
            offset = moment.utcoffset()
            assert offset is not None and offset.total_seconds() == 0


def paths_of(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths_of(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths_of(item, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn, seed: Any) -> Any:
    """The seed with a few nodes replaced by arbitrary JSON or deleted."""
    document = copy.deepcopy(seed)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths_of(document)))
        if not path:
            return draw(json_values)
        parent = document
        for step in path[:-1]:
            parent = parent[step]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(json_values)
    return document


def headers_for(name: str, resource: str) -> dict[str, str]:
    return {"sentry-hook-resource": resource} if name == "sentry" else {}


@FUZZ
@given(
    name=st.sampled_from(sorted(SOURCES)),
    body=st.binary(max_size=400),
    resource=st.sampled_from(SENTRY_RESOURCES),
)
def test_arbitrary_bytes(name: str, body: bytes, resource: str) -> None:
    check(SOURCES[name], body, headers_for(name, resource))


@FUZZ
@given(
    name=st.sampled_from(sorted(SOURCES)),
    value=json_values,
    resource=st.sampled_from(SENTRY_RESOURCES),
    content_type=st.sampled_from(["", "application/json", "text/plain"]),
)
def test_arbitrary_json(name: str, value: Any, resource: str, content_type: str) -> None:
    headers = headers_for(name, resource)
    if content_type:
        headers["content-type"] = content_type
    check(SOURCES[name], orjson.dumps(value), headers)


@FUZZ
@given(
    data=st.data(),
    name=st.sampled_from(sorted(SEEDS)),
    resource=st.sampled_from(SENTRY_RESOURCES[:4]),
)
def test_mutated_valid_payloads(data: st.DataObject, name: str, resource: str) -> None:
    seed = data.draw(st.sampled_from(SEEDS[name]))
    check(SOURCES[name], orjson.dumps(data.draw(mutated(seed))), headers_for(name, resource))


def test_seeds_are_valid() -> None:
    """The fuzz seeds must parse, or mutations would only exercise the first check."""
    resources = ["issue", "event_alert", "metric_alert", "error"]
    for name, seeds in SEEDS.items():
        for index, seed in enumerate(seeds):
            headers = headers_for(name, resources[index] if name == "sentry" else "")
            result = SOURCES[name].parse(orjson.dumps(seed), headers, OPTIONS)
            assert result.alerts, (name, index)
            for alert in result.alerts:
                check_alert(alert, name)


nginx_ish = st.lists(
    st.sampled_from(
        [
            "2024/01/01 00:00:00 ",
            "[error] ",
            "[warn] ",
            "1#1: ",
            "*3 ",
            "nginx: ",
            " while ",
            ", client: ",
            ", server: ",
            ', request: "',
            ', upstream: "',
            ', host: "',
            '"',
            "(110: x)",
            "http://",
            "unix:",
            "[::1]:80",
            "10.0.0.1:8080",
            "/a/b?c=1",
            ":",
            ",",
            " ",
        ]
    )
    | st.text(max_size=6),
    max_size=14,
).map("".join)


@FUZZ
@given(text=nginx_ish | st.text(max_size=200))
def test_nginx_line_parser_never_raises(text: str) -> None:
    parsed = parse_error_line(text)
    if parsed is not None:
        assert isinstance(message_template(parsed.message, parsed.action), str)
    check(SOURCES["nginx"], text.encode("utf-8", "surrogatepass"), {})


@FUZZ
@given(
    body=st.binary(max_size=64),
    secret=st.text(max_size=16),
    signature=st.text(max_size=70),
    name=st.sampled_from(["sentry-hook-signature", "Sentry-App-Signature", "x"]),
)
def test_signature_check_never_raises(body: bytes, secret: str, signature: str, name: str) -> None:
    assert verify_sentry_signature(body, {name: signature}, secret) in (True, False)
