"""Property: whatever a sender puts in a label, annotation or field, on SQLite and on
PostgreSQL alike, the webhook stores it (as sent, after the one text rule: NUL and lone
surrogates become U+FFFD) or refuses that one alert with a 4xx naming the field; the
body's other alerts are stored, the raw body is kept byte for byte, and JSON queries on
the stored rows keep working. Through the real path: the webhook lane, the parser, the
intake writer thread and ingest, on a migrated database."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select, text

from bot.config import Settings
from bot.roles import create_app
from routing.basics.storable import FIELD_LIMITS, storable_text
from routing.intake.episode_store import ALERT
from routing.intake.ingest import INBOX
from routing.storage.database import make_engine

ODD = [
    "\x00", "a\x00b", "\x00" * 3, "🔥", "🔥 on fire", "\u202eevil\u202c", "\u200f", "e\u0301",
    "\u0645\u0631\u062d\u0628\u0627", "\ud800", "x\udfffy", "\ud83d\ude00", "\\u0000", '"',
    "\t\n\r", "\x7f\x01", "\ufeff", "\uffff",
]  # fmt: skip
long_values = st.tuples(st.integers(150, 3000), st.sampled_from(["x", "é", "🔥", "\x00"])).map(
    lambda n_char: n_char[1] * n_char[0]
)
odd_text = st.text(
    alphabet=st.characters(categories=["Cs", "Cc", "Mn", "Cf", "So", "Lo"]), max_size=40
)
values = st.one_of(st.sampled_from(ODD), st.text(max_size=40), odd_text, long_values)

AM_SLOTS = [
    "label", "label_name", "alertname", "service", "job", "no_service", "summary",
    "description", "annotation", "annotation_name", "generator_url", "fingerprint",
]  # fmt: skip
GENERIC_SLOTS = [
    "title", "service", "labels.service", "description", "source_url", "label",
    "annotation", "fingerprint",
]  # fmt: skip


def as_read(value: str) -> str:
    """What a JSON reader makes of `value` sent as JSON (an escaped surrogate pair is
    one character again), then the storage rule."""
    return storable_text(json.loads(json.dumps(value)))


def body_bytes(payload: Any) -> bytes:
    # ensure_ascii: lone surrogates travel as "\ud800" escapes, as a sender would write them.
    return json.dumps(payload, ensure_ascii=True).encode()


@pytest.fixture
def lane(database_url: str) -> Iterator[tuple[TestClient, Engine]]:
    app = create_app(Settings(database_url=database_url, max_body_bytes=4 << 20), workers=False)
    engine = make_engine(database_url)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, engine
    engine.dispose()


def stored_alerts(engine: Engine, case: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(ALERT).order_by(ALERT.c.id)).mappings().all()
    return [dict(r) for r in rows if (r["labels"] or {}).get("case") == case]


def check_json_queries(engine: Engine) -> None:
    """PostgreSQL's jsonb refuses \\u0000: a stored NUL would break every such query."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect() as conn:
        conn.execute(
            text("SELECT labels::jsonb, annotations::jsonb, fingerprint_fields::jsonb FROM alert")
        ).all()
        conn.execute(text("SELECT data::jsonb, group_labels::jsonb FROM timeline, incident")).all()


def check_inbox(engine: Engine, request_id: str, body: bytes) -> None:
    with engine.connect() as conn:
        stored = conn.execute(select(INBOX.c.body).where(INBOX.c.request_id == request_id))
        assert [bytes(b) for (b,) in stored] == [body]


def check_answer(response: Any, refused_field: str | None) -> None:
    assert response.status_code < 500, response.text
    if refused_field is None:
        assert response.status_code == 202, response.text
        return
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["field"] == refused_field
    assert [r["field"] for r in problem["refused"]] == [refused_field]
    assert problem["accepted"]["alerts"] == 2


def test_alertmanager_fields_are_stored_or_refused_by_name(
    lane: tuple[TestClient, Engine],
) -> None:
    client, engine = lane
    cases = itertools.count()

    @settings(max_examples=40, deadline=None)
    @given(slot=st.sampled_from(AM_SLOTS), value=values)
    def check(slot: str, value: str) -> None:
        case = f"am{next(cases)}"
        labels = {"alertname": "Odd", "service": "api", "case": case}
        annotations: dict[str, str] = {}
        odd: dict[str, Any] = {"status": "firing", "labels": labels, "annotations": annotations}
        target = {"label": ("labels", "odd"), "alertname": ("labels", "alertname"),
                  "service": ("labels", "service"), "summary": ("annotations", "summary"),
                  "description": ("annotations", "description"),
                  "annotation": ("annotations", "runbook")}  # fmt: skip
        if slot in target:
            where, key = target[slot]
            odd[where][key] = value
        elif slot in ("job", "no_service"):
            del labels["service"]
            if slot == "job":
                labels["job"] = value
            else:
                labels["alertname"] = value
        elif slot == "label_name":
            labels[value] = "v"
        elif slot == "annotation_name":
            annotations[value] = "v"
        elif slot == "generator_url":
            odd["generatorURL"] = value
        else:
            odd["fingerprint"] = value
        good = [
            {
                "status": "firing",
                "labels": {"alertname": f"Good{n}", "service": "api", "case": case},
            }
            for n in (0, 2)
        ]
        body = body_bytes({"version": "4", "status": "firing", "alerts": [good[0], odd, good[1]]})
        response = client.post(
            "/webhooks/alertmanager",
            content=body,
            headers={"content-type": "application/json", "x-request-id": case},
        )
        service_value = as_read(value) if slot in ("service", "job") else "api"
        too_long = len(service_value) > FIELD_LIMITS["service"]
        field = "service" if slot == "service" else "job"
        refused_field = f"alerts[1].labels.{field}" if too_long and service_value else None
        check_answer(response, refused_field)
        check_inbox(engine, case, body)
        rows = stored_alerts(engine, case)
        names = sorted(r["labels"]["alertname"] for r in rows)
        if refused_field is not None:
            assert names == ["Good0", "Good2"]
            return
        assert len(rows) == 3, names
        [row] = [r for r in rows if r["labels"]["alertname"] not in ("Good0", "Good2")]
        sent_labels = {as_read(k): as_read(v) for k, v in labels.items()}
        assert row["labels"] == {**sent_labels, "service": row["service"]}
        sent_annotations = {as_read(k): as_read(v) for k, v in annotations.items()}
        if as_read(odd.get("fingerprint", "")):  # kept for cross-reference when not empty
            sent_annotations["alertmanager_fingerprint"] = as_read(odd["fingerprint"])
        assert row["annotations"] == sent_annotations
        if slot in ("service", "job") and service_value:
            assert row["service"] == service_value
        if slot == "summary" and as_read(value):
            assert row["title"] == as_read(value)
        if slot == "description":
            assert row["description"] == as_read(value)
        if slot == "generator_url":
            assert row["source_url"] == (as_read(value) or None)
        check_json_queries(engine)

    check()


def test_generic_fields_are_stored_or_refused_by_name(lane: tuple[TestClient, Engine]) -> None:
    client, engine = lane
    cases = itertools.count()

    @settings(max_examples=30, deadline=None)
    @given(slot=st.sampled_from(GENERIC_SLOTS), value=values)
    def check(slot: str, value: str) -> None:
        case = f"gen{next(cases)}"
        odd: dict[str, Any] = {"title": "odd", "service": "api", "labels": {"case": case}}
        if slot == "labels.service":
            del odd["service"]
            odd["labels"]["service"] = value
        elif slot == "label":
            odd["labels"]["odd"] = value
        elif slot == "annotation":
            odd["annotations"] = {"odd": value}
        else:
            odd[slot] = value
        good = [{"title": f"good{n}", "service": "api", "labels": {"case": case}} for n in (0, 2)]
        body = body_bytes({"alerts": [good[0], odd, good[1]]})
        response = client.post(
            "/webhooks/generic",
            content=body,
            headers={"content-type": "application/json", "x-request-id": case},
        )
        read = as_read(value)
        if slot == "title" and not read.strip():
            # A blank title is a wrong shape for the whole body, as before: 422, named.
            assert response.status_code == 422
            assert response.json()["field"] == "alerts[1].title"
            return
        service_slot = slot in ("service", "labels.service")
        too_long = service_slot and len(read) > FIELD_LIMITS["service"]
        check_answer(response, f"alerts[1].{slot}" if too_long else None)
        check_inbox(engine, case, body)
        rows = stored_alerts(engine, case)
        titles = sorted(r["title"] for r in rows)
        if too_long:
            assert titles == ["good0", "good2"]
            return
        assert len(rows) == 3, titles
        [row] = [r for r in rows if r["title"] not in ("good0", "good2")]
        if slot == "title":
            assert row["title"] == read
        elif service_slot and read:
            assert row["service"] == read
        elif slot == "description":
            assert row["description"] == read
        elif slot == "source_url":
            assert row["source_url"] == (read or None)
        elif slot == "label":
            assert row["labels"]["odd"] == read
        elif slot == "annotation":
            assert row["annotations"] == {"odd": read}
        elif slot == "fingerprint" and read:
            assert row["fingerprint_fields"] == {"fingerprint": read}
        check_json_queries(engine)

    check()


def test_sentry_texts_are_stored_as_sent(lane: tuple[TestClient, Engine]) -> None:
    client, engine = lane
    cases = itertools.count()

    @settings(max_examples=20, deadline=None)
    @given(title=values, culprit=values)
    def check(title: str, culprit: str) -> None:
        case = f"sentry{next(cases)}"
        issue = {
            "id": case, "title": title, "culprit": culprit, "level": "error",
            "status": "unresolved", "project": {"id": "2", "slug": "backend"},
        }  # fmt: skip
        body = body_bytes({"action": "created", "data": {"issue": issue}})
        headers = {"content-type": "application/json", "sentry-hook-resource": "issue"}
        response = client.post(
            "/webhooks/sentry", content=body, headers={**headers, "x-request-id": case}
        )
        check_answer(response, None)
        check_inbox(engine, case, body)
        with engine.connect() as conn:
            row = (
                conn.execute(
                    select(ALERT).where(ALERT.c.fingerprint_fields["issue_id"].as_string() == case)
                )
                .mappings()
                .one()
            )
        assert row["title"] == (as_read(title) or f"Sentry issue {case}")
        assert row["description"] == as_read(culprit)
        check_json_queries(engine)

    check()


def test_nginx_lines_are_stored_whatever_bytes_they_carry(lane: tuple[TestClient, Engine]) -> None:
    client, engine = lane
    cases = itertools.count()

    @settings(max_examples=20, deadline=None)
    @given(value=values)
    def check(value: str) -> None:
        case = f"nginx{next(cases)}"
        line = (
            f'2024/03/02 10:00:00 [error] 7#7: *1 open() "/{case}/{value}" failed '
            f'(2: No such file or directory), client: 203.0.113.9, server: web, host: "{value}"'
        )
        body = line.encode("utf-8", "surrogatepass")  # a lone surrogate: invalid UTF-8 bytes
        headers = {"content-type": "text/plain", "x-request-id": case}
        response = client.post("/webhooks/nginx", content=body, headers=headers)
        check_answer(response, None)
        check_inbox(engine, case, body)
        with engine.connect() as conn:
            rows = conn.execute(select(ALERT.c.description, ALERT.c.annotations)).all()
        texts = [d for d, _ in rows] + [v for _, a in rows for v in a.values()]
        assert any(f"/{case}/" in t for t in texts)
        assert not any(storable_text(t) != t for t in texts)
        check_json_queries(engine)

    check()
