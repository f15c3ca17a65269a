"""The incident list through a real `firebell serve` on SQLite and PostgreSQL: the page
and its filters, bulk and per-row actions recorded as the logged-in person, the no-JS
(303) and htmx (section) answers, and a viewer who may look but not act."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.bot.web import served
from tests.bot.web.served import CSRF, TOKENS, csrf_of, serving
from tests.support.server_process import ServerProcess, free_port
from tests.support.webhook_payloads import am_alert, am_webhook

pytestmark = pytest.mark.slow

REST = """\
users:
  - {{name: alice, contacts: ["json://127.0.0.1:{closed}/page"]}}
  - {{name: carol, role: viewer}}
escalation_policies:
  - {{name: default, steps: [{{notify: ["user:alice"], wait: 10m}}]}}
route:
  receiver: {{escalation: default}}
"""
ROW = re.compile(r'<tr data-incident-id="(\d+)"')


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    config = served.config(database_url, REST.format(closed=free_port()))
    with serving(tmp_path, config, TOKENS, database_url) as proc:
        yield proc


def open_incidents(base_url: str, *alerts: tuple[str, str, str]) -> dict[str, int]:
    """(alertname, service, severity) each -> its incident id, by name."""
    headers = {"Authorization": f"Bearer {TOKENS['AM_TOKEN']}", "Content-Type": "application/json"}
    with httpx.Client(base_url=base_url, headers=headers) as http:
        for name, service, severity in alerts:
            body = am_webhook([am_alert(name, service=service, severity=severity)])
            assert http.post("/webhooks/alertmanager", content=body).status_code == 202
        items = http.get("/api/v1/incidents").json()["items"]
    return {
        name: next(i["id"] for i in items if i["title"].startswith(name)) for name, *_ in alerts
    }


def login(base_url: str, token_name: str) -> AbstractContextManager[httpx.Client]:
    return served.login(base_url, TOKENS[token_name])


def timeline(base_url: str, incident_id: int) -> list[tuple[str, str]]:
    headers = {"Authorization": f"Bearer {TOKENS['AM_TOKEN']}"}
    item = httpx.get(f"{base_url}/api/v1/incidents/{incident_id}", headers=headers).json()
    return [(e["kind"], e["actor"]) for e in item["timeline"]]


def test_the_list_shows_open_incidents_with_filters_held_in_the_url(
    server: ServerProcess,
) -> None:
    ids = open_incidents(
        server.base_url,
        ("DiskFull", "db", "warning"),
        ("ApiDown", "api", "critical"),
        ("SlowQueries", "db", "info"),
    )
    assert httpx.get(server.base_url + "/").status_code in (303, 401)  # login first
    with login(server.base_url, "ALICE_TOKEN") as http:
        page = http.get("/")
        assert page.status_code == 200
        assert "<title>(3) open incidents · firebell</title>" in page.text
        # Most severe first.
        assert ROW.findall(page.text) == [
            str(ids[n]) for n in ("ApiDown", "DiskFull", "SlowQueries")
        ]
        assert "Showing 3 of 3" in page.text and "Acknowledge selected" in page.text
        assert page.headers["server-timing"].count("dur=") == 4
        assert http.get("/incidents").text.count("data-incident-id=") == 3

        db = http.get("/", params={"service": "db", "severity": "info"})
        assert ROW.findall(db.text) == [str(ids["SlowQueries"])]
        assert "(3) open incidents" in db.text  # the tab counts all open ones
        # The live section refetches with the same filters.
        assert 'hx-get="/?section=list&amp;service=db&amp;severity=info"' in db.text

        section = http.get("/", params={"section": "list", "service": "db"})
        assert section.status_code == 200 and "<html" not in section.text
        assert section.text.lstrip().startswith('<section id="incident-list"')
        assert len(ROW.findall(section.text)) == 2

        empty = http.get("/", params={"service": "nothing-here"})
        assert 'id="incident-empty"' in empty.text and "data-incident-id" not in empty.text
        assert ROW.findall(http.get("/", params={"status": "resolved"}).text) == []

        for params, field in (
            ({"status": "closed"}, "status"),
            ({"severity": "huge"}, "severity"),
            ({"mine": "yes"}, "mine"),
            ({"limit": "0"}, "limit"),
        ):
            bad = http.get("/", params=params)
            assert bad.status_code == 422, params
            assert f'data-field="{field}"' in bad.text and f"Invalid {field}" in bad.text


def test_bulk_acknowledge_records_the_person_and_redirects_back_with_the_filters(
    server: ServerProcess,
) -> None:
    ids = open_incidents(
        server.base_url,
        ("ApiDown", "api", "critical"),
        ("ApiSlow", "api", "warning"),
        ("DbDown", "db", "critical"),
    )
    with login(server.base_url, "ALICE_TOKEN") as http:
        token = csrf_of(http.get("/", params={"service": "api"}).text)
        form = {
            "csrf": token,
            "service": "api",
            "ids": [str(ids["ApiDown"]), str(ids["ApiSlow"]), "999999"],
        }
        answer = http.post("/incidents/ack", data=form)
        assert answer.status_code == 303
        where = urlsplit(answer.headers["location"])
        assert where.path == "/"
        query = parse_qs(where.query)
        assert query["service"] == ["api"] and query["done"] == ["ack"]
        assert query["acked"] == [f"{ids['ApiDown']},{ids['ApiSlow']}"]
        assert query["notfound"] == ["999999"]
        shown = http.get(answer.headers["location"]).text
        assert 'data-outcome="done"' in shown and 'data-outcome="notfound"' in shown
        for name in ("ApiDown", "ApiSlow"):
            assert ("acknowledged", "alice") in timeline(server.base_url, ids[name])
        assert all(k != "acknowledged" for k, _ in timeline(server.base_url, ids["DbDown"]))

        # Again: already acknowledged, reported, not an error.
        again = http.post("/incidents/ack", data={**form, "ids": [str(ids["ApiDown"])]})
        assert parse_qs(urlsplit(again.headers["location"]).query)["already"] == [
            str(ids["ApiDown"])
        ]
        # htmx: the re-rendered section with the filters kept, no redirect.
        hx = http.post(
            "/incidents/resolve",
            data={"csrf": token, "service": "api", "ids": str(ids["ApiSlow"])},
            headers={"HX-Request": "true"},
        )
        assert hx.status_code == 200 and hx.text.lstrip().startswith('<section id="incident-list"')
        assert ROW.findall(hx.text) == [str(ids["ApiDown"])]
        assert 'data-outcome="done"' in hx.text
        assert ("resolved", "alice") in timeline(server.base_url, ids["ApiSlow"])

        for data, field in (({"csrf": token}, "ids"), ({"csrf": token, "ids": "x1"}, "ids")):
            bad = http.post("/incidents/ack", data=data)
            assert bad.status_code == 422 and field in bad.text
        # No CSRF token: refused, nothing changes.
        assert http.post("/incidents/ack", data={"ids": str(ids["DbDown"])}).status_code == 403

        mine = http.get("/", params={"mine": "1"})
        # alice acknowledged ApiDown and was paged for DbDown (a step to user:alice).
        assert set(ROW.findall(mine.text)) <= {str(ids["ApiDown"]), str(ids["DbDown"])}
        assert str(ids["ApiDown"]) in ROW.findall(mine.text)


def test_a_viewer_sees_no_buttons_and_is_refused(server: ServerProcess) -> None:
    ids = open_incidents(server.base_url, ("ApiDown", "api", "critical"))
    with login(server.base_url, "CAROL_TOKEN") as http:
        page = http.get("/").text
        assert ROW.findall(page) == [str(ids["ApiDown"])]
        assert "Acknowledge selected" not in page
        assert 'data-key="a"' not in page and 'data-key="r"' not in page
        assert 'name="ids"' not in page
        token = csrf_of(page) if CSRF.search(page) else ""
        refused = http.post("/incidents/ack", data={"csrf": token, "ids": str(ids["ApiDown"])})
        assert refused.status_code == 403
        assert all(k != "acknowledged" for k, _ in timeline(server.base_url, ids["ApiDown"]))
