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

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, func, select, text

from routing.storage.database import sqlalchemy_url
from tests.bot.web import web_client
from tests.bot.web.web_client import ALICE_TOKEN, MACHINE_TOKEN, SAME_SITE
from tests.support.server_process import ServerProcess

CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
# Raw query/form encodings (sent as they are, so the server does the decoding).
NASTY = (
    "%00",
    "a%00b",
    "%ED%A0%80",  # a lone surrogate, UTF-8 encoded: not valid UTF-8
    "%FF%FE",
    "9223372036854775808",
    "999999999999999999",
    "2147483648",
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
# The form fields get the values most likely to get past a parser (time: each is a POST).
SKIPPED_IN_FORMS = ("+", "%20", "1e3", "inf", "%FF%FE", "0x10", "%E2%80%AE", "%3Cscript%3E")
FORM_NASTY = tuple(v for v in NASTY if v not in SKIPPED_IN_FORMS)
TABLES = ("incident", "alert", "timeline", "silence", "notification", "playbook_run")
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
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


_ENGINES: dict[str, Engine] = {}


def counts(database_url: str) -> dict[str, int]:
    engine = _ENGINES.get(database_url) or _ENGINES.setdefault(
        database_url, create_engine(sqlalchemy_url(database_url), pool_size=1)
    )
    with engine.connect() as conn:
        query = select(
            *(select(func.count()).select_from(text(t)).scalar_subquery() for t in TABLES)
        )
        return dict(zip(TABLES, conn.execute(query).one(), strict=True))


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, str, int]]:
    folder = tmp_path / "pb"
    folder.mkdir()
    (folder / "probe.yaml").write_text(PLAYBOOK)
    http = web_client.client(
        database_url,
        playbooks=str(folder),
        users=[
            {"name": "alice", "time_zone": "Europe/Berlin", "contacts": ["json://127.0.0.1:9/a"]},
            {"name": "vera", "role": "viewer"},
        ],
        schedules=[{"name": "primary", "layers": [{"rotation": "weekly", "members": ["alice"]}]}],
    )
    # A 500 is an answer to look at here, not an exception in the test.
    http = TestClient(http.app, follow_redirects=False, raise_server_exceptions=False)
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
        # (a dry-run: a run started would write rows in the background while others are counted)
        (f"/incidents/{incident}/playbooks/probe", {"param.window": "1h", "param.lines": "5"}),
        (f"/incidents/{incident}/runs/1/approve", {"step": "note", "comment": "ok"}),
        (f"/incidents/{incident}/runs/1/cancel", {}),
        ("/silences/preview", {"matchers": "service=db", "duration": "1h"}),
        (
            "/silences",
            {
                "label": "service",
                "op": "=",
                "value": "db",
                "duration": "custom",
                "ends_at": "2026-12-06T09:00",
                "comment": "c",
            },
        ),
        (f"/incidents/{incident}/resolve", {"note": "fixed"}),
    ]


ALERT = re.compile(r'<p class="flash error" role="alert">(.*?)</p>', re.S)


def _named(answer: Any, fields: tuple[str, ...]) -> bool:
    """The field is named in the error banner (a page) or the problem document (API)."""
    shown = ALERT.search(answer.text)
    body = shown.group(1) if shown else answer.text
    return any(f in body or f.removeprefix("param.") in body for f in fields)


def check(answer: Any, what: str, field: str, failures: list[str], *also: str) -> None:
    if answer.status_code >= 500:
        failures.append(f"{what}: {answer.status_code} {answer.text[:200]!r}")
    elif answer.status_code in (400, 422) and not _named(answer, (field, *also)):
        failures.append(
            f"{what}: {answer.status_code} does not name {field}: {answer.text[-300:]!r}"
        )


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
            for value in FORM_NASTY:
                body = "&".join(f"{k}={value if k == field else quote(v)}" for k, v in form.items())
                body += f"&csrf={quote(token)}&mode=dry-run"
                before = counts(database_url)
                answer = http.post(path, content=body, headers=form_headers)
                what = f"POST {path} {field}={value[:40]}"
                # An empty label/value row is a matcher like the others (service="").
                empty_row = field in ("label", "value") and value == ""
                check(answer, what, field, failures, *(("matchers",) if empty_row else ()))
                if answer.status_code >= 400 and counts(database_url) != before:
                    failures.append(f"{what}: refused ({answer.status_code}) but wrote rows")
        # the CSRF token left out: refused, nothing written
        before = counts(database_url)
        answer = http.post(path, data=form | {"mode": "dry-run"}, headers=SAME_SITE)
        if answer.status_code != 403 or counts(database_url) != before:
            failures.append(f"POST {path} without csrf: {answer.status_code}")
    for value in NASTY:  # the mode (anything but dry-run starts a run): last, no row count
        path = f"/incidents/{incident}/playbooks/probe"
        body = f"csrf={quote(token)}&mode={value}&param.lines=5"
        check(http.post(path, content=body, headers=form_headers), f"POST {path} mode={value[:40]}",
              "mode", failures)  # fmt: skip
    for value in NASTY:
        for template in ("/incidents/{}/ack", "/silences/{}/expire",
                         f"/incidents/{incident}/runs/{{}}/approve"):  # fmt: skip
            path = template.format(value or "x")
            answer = http.post(path, content=f"csrf={quote(token)}", headers=form_headers)
            check(answer, f"POST {path[:80]}", "id", failures)
    assert not failures, "\n".join(failures)


def test_a_body_past_the_limit_is_413(
    world: tuple[TestClient, str, int], database_url: str
) -> None:
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


SERVE_CONFIG = """\
database_url: {database_url}
api_tokens: [{{token: "{token}", user: alice}}]
users: [{{name: alice}}]
"""


def test_a_real_server_answers_huge_and_broken_requests(database_url: str, tmp_path: Path) -> None:
    """Through `firebell serve` (uvicorn): a 10 MB form is 413 before it is read, a 60 kB
    query and broken percent-encoding in the path are 4xx, and the server still serves."""
    proc = ServerProcess(
        tmp_path, SERVE_CONFIG.format(database_url=database_url, token=ALICE_TOKEN)
    )
    if not database_url.startswith("sqlite"):
        assert proc.cli("db", "upgrade").returncode == 0
    with proc, httpx.Client(base_url=proc.base_url, headers=SAME_SITE, timeout=30) as http:
        http.headers["Origin"] = proc.base_url
        assert http.post("/login", data={"token": ALICE_TOKEN}).status_code == 303
        before = counts(database_url)
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        huge = "csrf=x&text=" + "x" * (10 * 1024 * 1024)
        assert http.post("/incidents/1/note", content=huge, headers=form).status_code == 413
        odd = ("/incidents/%ED%A0%80", "/incidents/%00", "/oncall?at=%ED%A0%80",
               "/reports?from=%00", "/silences?matchers=%00", "/?service=%00")  # fmt: skip
        for path in ("/?service=" + "x" * 60_000, *odd):
            answer = http.get(path)
            assert 400 <= answer.status_code < 500, (path[:60], answer.status_code)
        assert counts(database_url) == before
        assert http.get("/healthz").status_code == 200
