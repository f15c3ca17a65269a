"""Odd input to every web route (and the reports/postmortem API), on SQLite and PostgreSQL:
NUL bytes, a percent-encoded lone surrogate, huge and unicode numbers, values past 2**63,
repeated parameters, a missing CSRF token. Never a 5xx; a 422/400 names the field; a
refused request writes no row (counted before and after)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select, text

from tests.bot.web import web_client
from tests.bot.web.web_client import ALICE_TOKEN, MACHINE_TOKEN, SAME_SITE

CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
# Raw query/form encodings (sent as they are, so the server does the decoding).
NASTY = (
    "%00",
    "a%00b",
    "%ED%A0%80",  # a lone surrogate, UTF-8 encoded: not valid UTF-8
    "%FF%FE",
    "9223372036854775808",
    "-9223372036854775809",
    "99999999999999999999999999999999",
    "-1",
    "0",
    "1.5",
    "1e3",
    "NaN",
    "inf",
    "%C2%B2",  # superscript two: str.isdigit() says yes, int() says no
    "%D9%A1%D9%A2",  # Arabic-Indic 12
    "%EF%BC%91",  # fullwidth 1
    "",
    "+",
    "%20",
    "x" * 5000,
    "0x10",
    "2026-13-45",
    "9999-12-31T23:59:59",
    "0001-01-01",
    "2026-03-29T02:30",
    "2026-12-06T10:00:00%2B99:00",
    "%E2%80%AE",  # right-to-left override
    "%3Cscript%3E",
)
TABLES = ("incident", "alert", "timeline", "silence", "notification", "playbook_run")
PLAYBOOK = """\
id: probe
description: A playbook with params
match: ['service="db"']
run: manual
params:
  window: {type: duration, default: 30m, max: 6h}
  lines: {type: int, default: 10, min: 1, max: 100}
steps:
  - {id: note, uses: chat.post, with: {text: "{{ params.window }} {{ params.lines }}"}}
"""


def counts(database_url: str) -> dict[str, int]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            found = {}
            for name in TABLES:
                try:
                    found[name] = conn.execute(
                        select(func.count()).select_from(text(name))
                    ).scalar_one()
                except Exception:  # a table this build does not have
                    conn.rollback()
            return found
    finally:
        engine.dispose()


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, str, int]]:
    folder = tmp_path / "pb"
    folder.mkdir()
    (folder / "probe.yaml").write_text(PLAYBOOK)
    http = web_client.client(
        database_url,
        playbooks=str(folder),
        schedules=[{"name": "primary", "layers": [{"rotation": "weekly", "members": ["alice"]}]}],
    )
    with http:
        machine = {"Authorization": f"Bearer {MACHINE_TOKEN}"}
        alert = {"title": "Disk full", "service": "db", "severity": "critical"}
        assert http.post("/webhooks/generic", json=alert, headers=machine).status_code == 202
        incident_id = 0
        for _ in range(100):
            items = http.get("/api/v1/incidents", headers=machine).json()["items"]
            if items:
                incident_id = items[0]["id"]
                break
            time.sleep(0.05)
        assert incident_id
        web_client.log_in(http, ALICE_TOKEN)
        page = http.get(f"/incidents/{incident_id}")
        found = CSRF.search(page.text)
        assert found, page.text
        yield http, found.group(1), incident_id


def gets(incident: int) -> list[tuple[str, tuple[str, ...]]]:
    return [
        ("/", ("status", "service", "severity", "mine", "limit", "section", "done", "acked")),
        ("/incidents", ("status", "limit", "section")),
        (f"/incidents/{incident}", ("before", "since", "extend", "section")),
        (f"/incidents/{incident}/postmortem", ("format",)),
        ("/oncall", ("at", "handoffs", "section")),
        ("/silences", ("section", "matchers", "label", "op", "value", "duration", "ends_at")),
        ("/reports", ("days", "from", "to", "section")),
        ("/login", ("next",)),
    ]


def posts(incident: int) -> list[tuple[str, dict[str, str]]]:
    """Each action with a valid form; each field is replaced by every odd value in turn."""
    return [
        ("/incidents/ack", {"ids": str(incident), "status": "open", "limit": "5"}),
        ("/incidents/resolve", {"ids": str(incident), "service": "db", "mine": "0"}),
        (f"/incidents/{incident}/note", {"text": "looking"}),
        (f"/incidents/{incident}/silence", {"duration": "custom", "custom": "2h", "comment": "c"}),
        (f"/incidents/{incident}/playbooks/probe", {"mode": "dry-run", "param.window": "1h",
                                                   "param.lines": "5"}),  # fmt: skip
        (f"/incidents/{incident}/runs/1/approve", {"step": "note", "comment": "ok"}),
        (f"/incidents/{incident}/runs/1/cancel", {}),
        ("/silences/preview", {"matchers": "service=db", "duration": "1h"}),
        ("/silences", {"label": "service", "op": "=", "value": "db", "duration": "custom",
                       "ends_at": "2026-12-06T09:00", "comment": "c"}),  # fmt: skip
        (f"/incidents/{incident}/resolve", {"note": "fixed"}),
    ]


def _named(answer: Any, field: str) -> bool:
    body = answer.text
    return field in body or field.removeprefix("param.") in body


def check(answer: Any, what: str, field: str, failures: list[str]) -> None:
    if answer.status_code >= 500:
        failures.append(f"{what}: {answer.status_code} {answer.text[:200]!r}")
    elif answer.status_code in (400, 422) and not _named(answer, field):
        failures.append(f"{what}: {answer.status_code} does not name {field}: {answer.text[-300:]!r}")


def test_odd_query_values_never_5xx(world: tuple[TestClient, str, int]) -> None:
    http, _, incident = world
    failures: list[str] = []
    for path, fields in gets(incident):
        for field in fields:
            for value in NASTY:
                url = f"{path}?{field}={value}"
                check(http.get(url), f"GET {url[:80]}", field, failures)
            # repeated: one good, one bad
            check(http.get(f"{path}?{field}=1&{field}=%00"), f"GET {path} {field} twice", field,
                  failures)  # fmt: skip
    machine = {"Authorization": f"Bearer {MACHINE_TOKEN}"}
    for path, fields in [
        ("/api/v1/reports", ("days", "from", "to", "top")),
        (f"/api/v1/incidents/{incident}/postmortem", ("format",)),
    ]:
        for field in fields:
            for value in NASTY:
                url = f"{path}?{field}={value}"
                check(http.get(url, headers=machine), f"GET {url[:80]}", field, failures)
    for value in NASTY:
        for template in ("/incidents/{}", "/incidents/{}/postmortem", "/incidents/{}/postmortem.md",
                         "/api/v1/incidents/{}/postmortem"):  # fmt: skip
            url = template.format(value or "x")
            answer = http.get(url, headers=machine if "/api/" in url else {})
            check(answer, f"GET {url[:80]}", "incident", failures)
    assert not failures, "\n".join(failures)


def test_odd_form_values_never_5xx_nor_half_written(
    world: tuple[TestClient, str, int], database_url: str
) -> None:
    http, token, incident = world
    failures: list[str] = []
    form_headers = {**SAME_SITE, "Content-Type": "application/x-www-form-urlencoded"}
    for path, form in posts(incident):
        for field in form:
            for value in NASTY:
                body = "&".join(
                    f"{k}={value if k == field else quote(v)}" for k, v in form.items()
                )
                body += f"&csrf={quote(token)}"
                before = counts(database_url)
                answer = http.post(path, content=body, headers=form_headers)
                what = f"POST {path} {field}={value[:40]}"
                check(answer, what, field, failures)
                if answer.status_code >= 400 and counts(database_url) != before:
                    failures.append(f"{what}: refused ({answer.status_code}) but wrote rows")
        # the CSRF token left out: refused, nothing written
        before = counts(database_url)
        answer = http.post(path, data=form, headers=SAME_SITE)
        if answer.status_code != 403 or counts(database_url) != before:
            failures.append(f"POST {path} without csrf: {answer.status_code}")
    for value in NASTY:
        for template in ("/incidents/{}/ack", "/silences/{}/expire",
                         f"/incidents/{incident}/runs/{{}}/approve"):  # fmt: skip
            path = template.format(value or "x")
            answer = http.post(path, content=f"csrf={quote(token)}", headers=form_headers)
            check(answer, f"POST {path[:80]}", "id", failures)
    assert not failures, "\n".join(failures)


def test_a_body_past_the_limit_is_413(world: tuple[TestClient, str, int], database_url: str) -> None:
    http, token, incident = world
    before = counts(database_url)
    body = f"csrf={quote(token)}&text=" + "x" * (10 * 1024 * 1024)
    answer = http.post(
        f"/incidents/{incident}/note",
        content=body,
        headers={**SAME_SITE, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 413, answer.text[:300]
    assert counts(database_url) == before
