"""logs.sentry_event against a loopback Sentry API (retrieve an issue event)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from integrations.logs import LOG_BACKENDS, format_line
from integrations.logs.base import FetchError
from integrations.logs.sentry_event import SentryConnection, SentryEventArgs, SentryEventBackend
from tests.integrations.logs.support import NOW, plan_and_fetch
from tests.support.loopback_http import RecordedRequest, Reply, start

TOKEN = "sntrys_eyJpYXQiOjE3MDAwMDAwMDB9_secret"
EVENT_ID = "9fac2ceed9344f2bbfdd1fdacb0ed9b1"


def frame(filename: str, line: int, function: str, in_app: bool) -> dict[str, Any]:
    return {"filename": filename, "absPath": "/srv/" + filename, "function": function,
            "module": None, "lineNo": line, "colNo": None, "inApp": in_app,
            "context": [[line, "raise KeyError(key)"]]}  # fmt: skip


def event(**over: Any) -> dict[str, Any]:
    crumbs: list[dict[str, Any]] = [
        {"timestamp": f"2026-12-06T10:0{i // 10}:{i % 10}0.000Z", "type": "default",
         "category": "log", "level": "info", "message": f"step {i}", "data": None}
        for i in range(12)
    ]  # fmt: skip
    http = {"method": "GET", "url": "http://cart/items", "status_code": 500}
    crumbs[-1] = {"timestamp": 1796551310.25, "type": "http", "category": "httplib",
                  "level": "error", "message": None, "data": http}  # fmt: skip
    base: dict[str, Any] = {
        "id": EVENT_ID,
        "eventID": EVENT_ID,
        "groupID": "4567",
        "title": "KeyError: 'cart'",
        "message": "",
        "platform": "python",
        "type": "error",
        "dateCreated": "2026-12-06T10:01:51.123456Z",
        "dateReceived": "2026-12-06T10:01:52Z",
        "tags": [{"key": "environment", "value": "prod"}, {"key": "release", "value": "1.4.2"}],
        "user": None,
        "contexts": {},
        "entries": [
            {"type": "exception", "data": {"values": [
                {"type": "KeyError", "value": "'cart'", "mechanism": {"type": "generic"},
                 "stacktrace": {"frames": [
                     frame("django/core/handlers/base.py", 181, "_get_response", False),
                     frame("shop/views.py", 42, "checkout", True),
                     frame("shop/cart.py", 7, "load", True),
                 ]}},
            ]}},
            {"type": "breadcrumbs", "data": {"values": crumbs}},
            {"type": "request", "data": {"url": "https://shop/checkout", "method": "POST"}},
        ],
    }  # fmt: skip
    return {**base, **over}


def test_latest_event_request_and_text() -> None:
    def sentry(request: RecordedRequest) -> Reply:
        assert request.method == "GET"
        assert request.path == "/api/0/organizations/acme/issues/4567/events/latest/"
        assert request.query == {"environment": ["prod"]}
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        return Reply.json(event())

    with start(sentry) as server:
        conn = {"type": "sentry", "url": server.base_url, "organization": "acme", "token": TOKEN,
                "allow_private": True}  # fmt: skip
        args = {"connection": "sentry", "issue_id": 4567, "environment": "prod"}
        fetched = plan_and_fetch(LOG_BACKENDS["sentry_event"], args, conn)
    text = [format_line(line) for line in fetched.lines]
    assert text[:6] == [
        f"2026-12-06T10:01:51.123Z sentry KeyError: 'cart' (event {EVENT_ID})",
        "KeyError: 'cart'",
        "  at shop/views.py:42 in checkout",
        "  at shop/cart.py:7 in load",
        "tags: environment=prod, release=1.4.2",
        "2026-12-06T10:00:20.000Z breadcrumb log step 2",
    ]
    assert len(text) == 5 + 10  # the last ten breadcrumbs
    assert text[-1] == (
        "2026-12-06T10:01:50.250Z breadcrumb httplib [error] GET http://cart/items 500"
    )
    assert fetched.facts == {
        "event_id": EVENT_ID,
        "title": "KeyError: 'cart'",
        "exception_type": "KeyError",
        "exception_value": "'cart'",
        "count": 15,
    }


def test_an_event_without_in_app_frames_shows_the_last_frames() -> None:
    frames = [frame(f"lib/m{i}.py", i, f"f{i}", False) for i in range(8)]
    answer = event(
        entries=[
            {"type": "exception",
             "data": {"values": [{"type": "OSError", "value": "disk\nfull",
                                  "stacktrace": {"frames": frames}}]}}
        ]
    )  # fmt: skip
    with start(lambda _: Reply.json(answer)) as server:
        conn = {"type": "sentry", "url": server.base_url, "organization": "acme", "token": TOKEN,
                "allow_private": True}  # fmt: skip
        args = {"connection": "s", "issue_id": "4567", "event": EVENT_ID.upper()}
        fetched = plan_and_fetch(LOG_BACKENDS["sentry_event"], args, conn)
    assert server.requests[0].path.endswith(f"/issues/4567/events/{EVENT_ID}/")
    text = [line.text for line in fetched.lines]
    assert text[1:4] == ["OSError: disk full", "  (no in-app frames; the last 5 shown)",
                         "  at lib/m3.py:3 in f3"]  # fmt: skip
    assert text[-2] == "  at lib/m7.py:7 in f7"
    assert fetched.facts["exception_value"] == "disk\nfull"


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"issue_id": "12/../../x"}, "issue_id"),
        ({"issue_id": "abc"}, "issue_id"),
        ({"issue_id": ""}, "issue_id"),
        ({"event": "newest"}, "event"),
        ({"event": "../../projects"}, "event"),
        ({"event": EVENT_ID[:-1]}, "event"),
    ],
)
def test_bad_args_are_refused(change: dict[str, Any], where: str) -> None:
    with pytest.raises(ValidationError, match=where):
        SentryEventArgs.model_validate({"connection": "s", "issue_id": "1", **change})


def test_connection_defaults_to_sentry_io_and_needs_org_and_token() -> None:
    conn = SentryConnection.model_validate({"type": "sentry", "organization": "acme", "token": "t"})
    assert conn.url == "https://sentry.io" and conn.allow_private is False
    for missing in ("organization", "token"):
        data = {"type": "sentry", "organization": "acme", "token": "t"}
        del data[missing]
        with pytest.raises(ValidationError, match=missing):
            SentryConnection.model_validate(data)
    with pytest.raises(ValidationError, match="organization"):
        SentryConnection.model_validate({"type": "sentry", "organization": "a/b", "token": "t"})


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply.json({"detail": "The requested resource does not exist"}, 404),
         "sentry answered HTTP 404: {\"detail\": \"The requested resource does not exist\"}"),
        (Reply.json({"detail": "nope"}), "sentry answered without an event"),
    ],
)  # fmt: skip
def test_answers_without_an_event_fail_clearly(reply: Reply, message: str) -> None:
    with start(lambda _: reply) as server:
        conn = {"type": "sentry", "url": server.base_url, "organization": "acme", "token": TOKEN,
                "allow_private": True}  # fmt: skip
        with pytest.raises(FetchError) as caught:
            plan_and_fetch(LOG_BACKENDS["sentry_event"], {"connection": "s", "issue_id": "1"}, conn)
    assert message in str(caught.value) and TOKEN not in str(caught.value)


def test_dry_run_masks_the_token() -> None:
    backend = SentryEventBackend()
    conn = SentryConnection(type="sentry", organization="acme", token=TOKEN)
    args = SentryEventArgs.model_validate({"connection": "s", "issue_id": "99"})
    shown = backend.describe(backend.plan(args, conn, NOW), conn)
    assert shown == {
        "method": "GET",
        "url": "https://sentry.io/api/0/organizations/acme/issues/99/events/latest/",
        "headers": {"Accept": "application/json", "Authorization": "***"},
        "body": None,
    }
