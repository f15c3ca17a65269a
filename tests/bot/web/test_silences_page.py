"""/silences through a real `firebell serve` on SQLite and PostgreSQL: preview the open
alerts a silence would match, create (no-JS 303 and htmx section) and expire, as the
logged-in person; the three groups with "mutes now"; config silences read-only; bad
input named with a 4xx; a viewer sees no form and is refused; a silence made there drops
a page held for a bundle."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from routing.paging.outbox import notifications_of
from routing.storage.database import make_engine
from tests.bot.web import served
from tests.bot.web.served import CSRF, TOKENS, csrf_of, serving
from tests.support.loopback_http import Reply, start
from tests.support.server_process import ServerProcess
from tests.support.waiting import wait_for
from tests.support.webhook_payloads import am_alert, am_webhook

pytestmark = pytest.mark.slow

REST = """\
users:
  - {name: alice, time_zone: Europe/Madrid}
  - {name: carol, role: viewer}
silences:
  - {matchers: ['service="batch"'], recurrence: {weekdays: [sunday]}, comment: nightly batch}
"""
SILENCE_ROW = re.compile(r'<tr data-silence-id="([^"]+)" data-state="(\w+)" data-origin="(\w+)">')
PREVIEWED = re.compile(r'<li data-alert-id="(\d+)">')
API = {"Authorization": f"Bearer {TOKENS['AM_TOKEN']}"}


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    config = served.config(database_url, REST)
    with serving(tmp_path, config, TOKENS, database_url) as proc:
        yield proc


def login(base_url: str, token_name: str) -> AbstractContextManager[httpx.Client]:
    return served.login(base_url, TOKENS[token_name])


def fire(base_url: str, *alerts: tuple[str, str]) -> None:
    with httpx.Client(base_url=base_url, headers=API) as http:
        for name, service in alerts:
            body = am_webhook([am_alert(name, service=service, instance=f"{name}-1")])
            answer = http.post(
                "/webhooks/alertmanager", content=body,
                headers={"Content-Type": "application/json"},
            )  # fmt: skip
            assert answer.status_code == 202


def api_silences(base_url: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = httpx.get(base_url + "/api/v1/silences", headers=API).json()[
        "items"
    ]
    return items


def group(page: str, name: str) -> list[tuple[str, str, str]]:
    """The (id, state, origin) rows of one group ("expiring", "active", "ended")."""
    part = page.split(f'<section id="silences-{name}"', 1)[1].split("</section>", 1)[0]
    return SILENCE_ROW.findall(part)


def test_preview_create_and_expire(server: ServerProcess) -> None:
    base = server.base_url
    fire(base, ("ApiDown", "api"), ("ApiSlow", "api"), ("DbDown", "db"))
    alerts = httpx.get(base + "/api/v1/alerts", headers=API).json()["items"]
    api_ids = sorted(str(a["id"]) for a in alerts if a["service"] == "api")
    with login(base, "ALICE_TOKEN") as http:
        page = http.get("/silences")
        assert page.status_code == 200 and "<h1>Silences</h1>" in page.text
        token = csrf_of(page.text)
        # The config's Sunday silence: listed, read-only (no Expire), pending on a weekday
        # or active on a Sunday.
        (config_row,) = [r for r in SILENCE_ROW.findall(page.text) if r[2] == "config"]
        assert config_row[0] == "config:0"
        assert "config file (read-only)" in page.text
        assert 'action="/silences/config%3A0/expire"' not in page.text

        form = {"csrf": token, "matchers": "service=api\n", "duration": "4h", "comment": "deploy"}
        preview = http.post("/silences/preview", data=form, headers={"HX-Request": "true"})
        assert preview.status_code == 200
        assert preview.text.lstrip().startswith('<div id="silence-preview"')
        assert sorted(PREVIEWED.findall(preview.text)) == api_ids
        assert "2 open alerts would be silenced" in preview.text
        # Without JavaScript the preview is the page, form kept.
        plain = http.post("/silences/preview", data=form)
        assert plain.status_code == 200 and "<h1>Silences</h1>" in plain.text
        assert sorted(PREVIEWED.findall(plain.text)) == api_ids
        assert ">service=api\n</textarea>" in plain.text
        # GET with the matchers in the query (a link from elsewhere) previews too.
        linked = http.get("/silences", params={"label": "service", "op": "=", "value": "db"})
        assert len(PREVIEWED.findall(linked.text)) == 1

        created = http.post("/silences", data=form)
        assert (created.status_code, created.headers["location"]) == (303, "/silences")
        (mine,) = [s for s in api_silences(base) if s["origin"] == "api"]
        assert (mine["matchers"], mine["created_by"], mine["comment"]) == (
            ['service="api"'], "alice", "deploy",
        )  # fmt: skip

        # htmx: the create section comes back, cleared, saying what was made.
        short = {"csrf": token, "label": "alertname", "op": "=~", "value": "Db.*",
                 "duration": "30m"}  # fmt: skip
        section = http.post("/silences", data=short, headers={"HX-Request": "true"})
        assert section.status_code == 200, section.text
        assert section.text.lstrip().startswith('<section id="silence-create"')
        assert "Silenced alertname=~&#34;Db.*&#34;" in section.text

        page = http.get("/silences")
        short_id = next(
            s["id"] for s in api_silences(base) if s["matchers"] == ['alertname=~"Db.*"']
        )
        assert [r[0] for r in group(page.text, "expiring")] == [short_id]
        assert mine["id"] in [r[0] for r in group(page.text, "active")]
        mine_row = page.text.split(f'data-silence-id="{mine["id"]}"', 1)[1].split("</tr>", 1)[0]
        assert '<td class="num">2</td>' in mine_row and "alice" in mine_row

        listed = http.get("/silences", params={"section": "list"})
        assert listed.text.lstrip().startswith('<section id="silences"')
        assert 'hx-trigger="changed-silences from:body' in listed.text

        expired = http.post(f"/silences/{mine['id']}/expire", data={"csrf": token},
                            headers={"HX-Request": "true"})  # fmt: skip
        assert expired.status_code == 200
        assert [r[:2] for r in group(expired.text, "ended")] == [(mine["id"], "expired")]
        assert "ended by alice" in expired.text
        assert mine["id"] not in [s["id"] for s in api_silences(base)]
        again = http.post(f"/silences/{mine['id']}/expire", data={"csrf": token})
        assert again.status_code == 409 and "already ended" in again.text
        readonly = http.post("/silences/config:0/expire", data={"csrf": token})
        assert readonly.status_code == 409 and "config file" in readonly.text
        assert http.post("/silences/nope/expire", data={"csrf": token}).status_code == 404
        assert http.post("/silences/a%00b/expire", data={"csrf": token}).status_code == 404


def test_bad_input_is_named_and_viewers_are_refused(server: ServerProcess) -> None:
    base = server.base_url
    with login(base, "ALICE_TOKEN") as http:
        token = csrf_of(http.get("/silences").text)
        for form, field in (
            ({"matchers": 'service=~"("'}, "matchers"),
            ({"matchers": "service=~.*"}, "matchers"),  # would silence everything
            ({"matchers": ""}, "matchers"),
            ({"matchers": "service=api", "duration": "forever"}, "duration"),
            ({"matchers": "service=api", "duration": "custom"}, "ends_at"),
            ({"matchers": "service=api", "duration": "custom", "ends_at": "soon"}, "ends_at"),
            ({"matchers": "service=api", "duration": "custom", "ends_at": "2020-01-01T10:00"},
             "ends_at"),
            ({"label": "service", "op": "~~", "value": "x"}, "op"),
            ({"matchers": "service=api", "comment": "a\x00b"}, "comment"),
        ):  # fmt: skip
            answer = http.post("/silences", data={"csrf": token, "duration": "1h", **form})
            assert answer.status_code == 422, (form, answer.text)
            assert 'role="alert"' in answer.text and f"{field}: " in answer.text, form
            assert "<h1>Silences</h1>" in answer.text  # the page, the form kept
            htmx = http.post("/silences", data={"csrf": token, "duration": "1h", **form},
                             headers={"HX-Request": "true"})  # fmt: skip
            assert htmx.status_code == 422 and f"{field}: " in htmx.text
        assert [s for s in api_silences(base) if s["origin"] == "api"] == []
        # A future custom end in the viewer's zone (Madrid) is stored in UTC.
        custom = {"matchers": "service=api", "duration": "custom", "ends_at": "2099-07-01T12:00"}
        ok = http.post("/silences", data={"csrf": token, **custom})
        assert ok.status_code == 303
        (made,) = [s for s in api_silences(base) if s["origin"] == "api"]
        assert made["ends_at"] == "2099-07-01T10:00:00+00:00"
        # Cross-site and token-less posts are refused.
        foreign = http.post("/silences", data={"csrf": token, "matchers": "service=x"},
                            headers={"Sec-Fetch-Site": "cross-site"})  # fmt: skip
        assert foreign.status_code == 403
        assert http.post("/silences", data={"matchers": "service=x"}).status_code == 403

    with login(base, "CAROL_TOKEN") as viewer:
        page = viewer.get("/silences")
        assert page.status_code == 200
        assert "Create silence" not in page.text and ">Expire<" not in page.text
        assert made["id"] in page.text  # she sees the silences
        token = csrf_of(page.text) if CSRF.search(page.text) else ""
        refused = viewer.post("/silences", data={"csrf": token, "matchers": "service=x"})
        assert refused.status_code == 403 and "responder" in refused.text
        expire = viewer.post(f"/silences/{made['id']}/expire", data={"csrf": token})
        assert expire.status_code == 403
    assert [s["state"] for s in api_silences(base) if s["origin"] == "api"] == ["active"]


def test_a_silence_made_on_the_page_drops_a_held_page_and_says_so(
    database_url: str, tmp_path: Path
) -> None:
    """Bundling holds alice's second page for ten minutes; silencing that incident's service
    from the page drops it (the page says which incident, its timeline says why)."""
    with start(lambda request: Reply.json({"ok": True})) as sink:
        host = sink.base_url.removeprefix("http://")
        rest = f"""\
users:
  - {{name: alice, contacts: ["json://{host}/alice"]}}
  - {{name: carol, role: viewer}}
paging: {{bundle: {{max_pages: 1, window: 10m}}}}
escalation_policies:
  - {{name: ops, steps: [{{notify: ["user:alice"]}}]}}
route: {{group_wait: 0s, receiver: {{escalation: ops}}}}
"""
        with serving(tmp_path, served.config(database_url, rest), TOKENS, database_url) as proc:
            base = proc.base_url
            fire(base, ("ApiDown", "api"))
            wait_for("the first page", lambda: len(sink.requests) == 1)
            fire(base, ("DbDown", "db"))
            incidents = httpx.get(base + "/api/v1/incidents", headers=API).json()["items"]
            (db,) = [i["id"] for i in incidents if i["service"] == "db"]
            wait_for("the held page", lambda: pages_of(database_url, db) == {"held"})
            with login(base, "ALICE_TOKEN") as http:
                token = csrf_of(http.get("/silences").text)
                form = {"csrf": token, "label": "service", "op": "=", "value": "db",
                        "duration": "1h"}  # fmt: skip
                made = http.post("/silences", data=form, headers={"HX-Request": "true"})
            assert made.status_code == 200, made.text
            assert f"Pages not sent on #{db}." in made.text
            timeline = httpx.get(f"{base}/api/v1/incidents/{db}", headers=API).json()["timeline"]
            assert any("mutes every open alert: 1 page not sent" in e["message"] for e in timeline)
            assert pages_of(database_url, db) == {"cancelled"}


def pages_of(database_url: str, incident_id: int) -> set[str]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return {row["status"] for row in notifications_of(conn, incident_id)}
    finally:
        engine.dispose()
