"""Sentry webhook requests: the resource header, inert resources, and bad bodies."""

from __future__ import annotations

import pytest

from integrations.sources import PayloadError
from integrations.sources.sentry import sentry
from tests.integrations.sources.sentry_support import (
    ISSUE_FP,
    NO_OPTIONS,
    compact,
    issue_payload,
    parse,
)
from tests.support.sources import payload_error


def error_of(resource: str | None, raw: bytes) -> PayloadError:
    headers = {} if resource is None else {"sentry-hook-resource": resource}
    return payload_error(sentry, raw, headers)


@pytest.mark.parametrize("resource", ["installation", "seer", "brand_new_thing"])
def test_inert_resources_are_recorded(resource: str) -> None:
    result = parse(resource, {"action": "created", "data": {}})
    assert result.alerts == []
    assert result.note == f"recorded sentry {resource}.created"


def test_inert_resource_with_an_empty_body() -> None:
    result = sentry.parse(b"", {"sentry-hook-resource": "installation"}, NO_OPTIONS)
    assert result.alerts == [] and result.note == "recorded sentry installation"


def test_header_names_are_case_insensitive() -> None:
    body = compact(issue_payload("created"))
    for headers in ({"Sentry-Hook-Resource": "issue"}, {"SENTRY-HOOK-RESOURCE": " Issue "}):
        assert sentry.parse(body, headers, NO_OPTIONS).alerts[0].fingerprint == ISSUE_FP


def test_missing_resource_header_is_a_400() -> None:
    error = error_of(None, compact(issue_payload("created")))
    assert (error.field, error.status_code) == ("Sentry-Hook-Resource", 400)


@pytest.mark.parametrize(
    ("resource", "raw", "field", "status"),
    [
        ("issue", b"{oops", "body", 400),
        ("issue", b"[]", "body", 422),
        ("issue", b'{"data": {}}', "action", 422),
        ("issue", b'{"action": "created"}', "data", 422),
        ("issue", b'{"action": "created", "data": []}', "data", 422),
        ("issue", b'{"action": "created", "data": {}}', "data.issue", 422),
        ("issue", b'{"action": "created", "data": {"issue": {}}}', "data.issue.id", 422),
        ("issue", b'{"action": "created", "data": {"issue": {"id": 1.5}}}', "data.issue.id", 422),
        (
            "issue",
            b'{"action":"created","data":{"issue":{"id":1,"firstSeen":"x"}}}',
            "data.issue.firstSeen",
            422,
        ),
        (
            "event_alert",
            b'{"action": "triggered", "data": {"event": {}}}',
            "data.event.issue_id",
            422,
        ),
        ("error", b'{"action": "created", "data": {"error": {}}}', "data.error.issue_id", 422),
        (
            "metric_alert",
            b'{"action": "critical", "data": {"metric_alert": {}}}',
            "data.metric_alert.id",
            422,
        ),
        ("installation", b"{oops", "body", 400),
    ],
)
def test_bad_bodies_name_the_field(resource: str, raw: bytes, field: str, status: int) -> None:
    error = error_of(resource, raw)
    assert (error.field, error.status_code) == (field, status)
