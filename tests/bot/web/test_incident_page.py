"""The incident page `/incidents/{id}` through HTTP against the app, on SQLite and
PostgreSQL: every section of an incident opened through the webhook, ack / resolve /
note / silence recorded as the logged-in person (no-JS 303 and htmx sections), refusals
(409 banner, 422 naming the field, 404, viewer 403 and no buttons), and the timeline's
pages."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from routing.muting.silence_store import SILENCE
from routing.response import incidents
from routing.storage.timeline import TIMELINE
from tests.support.chat_harness import NOW, ChatWorld, settings_data
from tests.support.webhook_payloads import am_alert, am_webhook

TOKENS = {"alice": "alice-token-page-0123", "bob": "bob-token-page-0123",
          "vera": "vera-token-page-0123", "am": "am-token-page-0123"}  # fmt: skip
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
TIMELINE_IDS = re.compile(r'data-timeline-id="(\d+)"')
SECTIONS = ("incident-status", "alerts", "timeline", "escalation", "playbooks", "runs", "approvals")
CONTACT = "json://127.0.0.1:9/alice"


def page_config(database_url: str, **extra: Any) -> dict[str, Any]:
    data = settings_data(
        database_url,
        api_tokens=[
            {"token": TOKENS["alice"], "user": "alice"},
            {"token": TOKENS["bob"], "user": "bob"},
            {"token": TOKENS["vera"], "user": "vera"},
            {"token": TOKENS["am"], "name": "alertmanager"},
        ],
        escalation_policies=[
            {
                "name": "ops",
                "steps": [
                    {"notify": ["user:alice"], "wait": "10m"},
                    {"notify": ["schedule:primary"], "wait": "10m"},
                ],
            }
        ],
        route={"receiver": {"escalation": "ops"}},
    )
    data["users"].append({"name": "vera", "role": "viewer"})
    data.update(extra)
    return data


class Browser:
    """A logged-in person's browser: session cookie, same-origin headers, CSRF token."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.token = ""

    async def login(self, who: str) -> Browser:
        answer = await self.http.post("/login", data={"token": TOKENS[who]})
        assert answer.status_code == 303, answer.text
        return self

    async def page(self, incident_id: int, query: str = "") -> httpx.Response:
        answer = await self.http.get(f"/incidents/{incident_id}{query}")
        found = CSRF.search(answer.text)
        if found:
            self.token = found.group(1)
        return answer

    async def post(
        self, path: str, data: dict[str, str] | None = None, *, htmx: bool = False
    ) -> httpx.Response:
        headers = {"HX-Request": "true"} if htmx else {}
        body = {"csrf": self.token, **(data or {})}
        return await self.http.post(path, data=body, headers=headers)


@asynccontextmanager
async def page_world(data: dict[str, Any]) -> AsyncIterator[ChatWorld]:
    async with ChatWorld.open(data) as world:
        yield world


def browser(world: ChatWorld) -> Browser:
    transport = httpx.ASGITransport(app=world.app)
    http = httpx.AsyncClient(
        transport=transport,
        base_url="http://firebell",
        headers={"Origin": "http://firebell", "Sec-Fetch-Site": "same-origin"},
    )
    return Browser(http)


async def webhook_incident(world: ChatWorld, *alerts: dict[str, Any]) -> int:
    """An incident opened by Alertmanager alerts posted to the webhook."""
    body = am_webhook(list(alerts) or [am_alert("HighErrorRate")])
    headers = {"Authorization": f"Bearer {TOKENS['am']}", "Content-Type": "application/json"}
    posted = await world.http.post("/webhooks/alertmanager", content=body, headers=headers)
    assert posted.status_code == 202, posted.text
    with world.rt.engine.connect() as conn:
        (item,) = incidents.list_incidents(conn, limit=1)
    return int(item["id"])


def timeline_rows(world: ChatWorld, incident_id: int) -> list[tuple[str, str, str]]:
    with world.rt.engine.connect() as conn:
        rows = conn.execute(
            select(TIMELINE.c.kind, TIMELINE.c.actor, TIMELINE.c.message)
            .where(TIMELINE.c.incident_id == incident_id)
            .order_by(TIMELINE.c.id)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


def section(html: str, element_id: str) -> str:
    """The element with that id and what follows up to the next section (enough to
    assert on its content)."""
    start = html.index(f'id="{element_id}"')
    end = html.find("<section", start + 1)
    return html[start : end if end >= 0 else len(html)]


def test_the_page_shows_every_section_and_actions_are_recorded_as_the_user(
    database_url: str,
) -> None:
    async def go() -> None:
        async with page_world(page_config(database_url)) as world:
            odd = am_alert("DiskFull", summary="disk")
            odd["generatorURL"] = "javascript:alert(1)"
            incident_id = await webhook_incident(world, am_alert("HighErrorRate"))
            alice = await browser(world).login("alice")
            page = await alice.page(incident_id)
            assert page.status_code == 200, page.text
            html = page.text
            for element_id in SECTIONS:
                assert f'id="{element_id}"' in html, element_id
            assert "<h1>Incident #" in html
            alerts = section(html, "alerts")
            assert 'href="http://prometheus:9090/graph?g0.expr=HighErrorRate"' in alerts
            assert 'rel="noopener noreferrer"' in alerts
            assert "opened" in alerts or "group key" in alerts  # why it was grouped
            assert "1 occurrence" in alerts
            assert "Policy <strong>ops</strong>" in section(html, "escalation")
            assert CONTACT not in html  # contacts are credentials: names only
            assert 'data-key="a"' in html and 'data-key="r"' in html and 'data-key="s"' in html
            # Enter in the custom duration presses the first button: it must be "custom".
            silence_form = html.split('id="silence-form"', 1)[1].split("</form>", 1)[0]
            buttons = re.findall(
                r'<button type="submit" name="duration" value="(\w+)"', silence_form
            )
            assert buttons == ["custom", "30m", "1h", "4h"]
            assert 'id="note-form"' in html and "/api/v1/incidents/" in html
            # The export links are the one download route (md and json).
            export = html.split('aria-label="Export"', 1)[1]
            links = re.findall(r'href="([^"]+)" download', export)
            assert links == [
                f"/incidents/{incident_id}/postmortem?format=md",
                f"/incidents/{incident_id}/postmortem?format=json",
            ]
            postmortem = await alice.http.get(links[0])
            assert postmortem.status_code == 200, postmortem.text
            assert postmortem.headers["content-type"].startswith("text/markdown")
            assert "HighErrorRate" in postmortem.text and CONTACT not in postmortem.text
            assert (await alice.http.get(links[1])).json()["incident"]["id"] == incident_id
            assert (
                await alice.http.get(f"/incidents/{incident_id}/postmortem.md")
            ).status_code == 404
            assert 'hx-trigger="changed-incidents from:body"' in html
            # A source link that is not http(s) is never a link.
            odd_page = await alice.page(await webhook_incident(world, odd))
            assert "DiskFull" in odd_page.text and "javascript:" not in odd_page.text

            # The worker pages alice (step 1): the section names her, never her contact.
            for _ in range(200):
                paged = await alice.http.get(f"/incidents/{incident_id}?section=escalation")
                if '<span class="who">alice</span> via user:alice' in paged.text:
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError(f"alice was never shown as paged: {paged.text}")
            assert "step 2 of 2, pass 1 of 1" in paged.text and "schedule:primary" in paged.text
            assert CONTACT not in paged.text and "json://" not in paged.text

            # A section alone, as a live tick re-fetches it.
            part = await alice.http.get(f"/incidents/{incident_id}?section=status")
            assert part.status_code == 200
            assert part.text.lstrip().startswith('<section id="incident-status"')
            assert "<html" not in part.text

            # Acknowledge without JavaScript: 303 back to the page, recorded as alice.
            acked = await alice.post(f"/incidents/{incident_id}/ack")
            assert acked.status_code == 303, acked.text
            assert acked.headers["location"] == f"/incidents/{incident_id}"
            assert ("acknowledged", "alice", "acknowledged by alice") in timeline_rows(
                world, incident_id
            )
            page = await alice.page(incident_id)
            assert 'data-status="acknowledged"' in page.text
            assert 'data-key="a"' not in page.text  # nothing to acknowledge any more

            # Again: 409 with a banner naming why, the page re-rendered.
            again = await alice.post(f"/incidents/{incident_id}/ack")
            assert again.status_code == 409
            assert "already acknowledged by alice" in again.text
            assert 'role="alert"' in again.text and 'id="incident-status"' in again.text

            # A note with htmx: the timeline section comes back out of band, and an
            # empty note form.
            noted = await alice.post(
                f"/incidents/{incident_id}/note", {"text": "looking at the db <b>"}, htmx=True
            )
            assert noted.status_code == 200, noted.text
            assert 'id="timeline"' in noted.text and 'hx-swap-oob="outerMorph"' in noted.text
            assert "looking at the db &lt;b&gt;" in noted.text
            assert 'id="note-form"' in noted.text
            assert ("note", "alice", "looking at the db <b>") in timeline_rows(world, incident_id)
            empty = await alice.post(f"/incidents/{incident_id}/note", {"text": "  "}, htmx=True)
            assert empty.status_code == 422 and "text" in empty.text
            assert empty.headers["HX-Retarget"] == "#flash"

            # Silence 30m (no JS) and a custom 90m (htmx), recorded as alice.
            s30 = await alice.post(f"/incidents/{incident_id}/silence", {"duration": "30m"})
            assert s30.status_code == 303, s30.text
            custom = await alice.post(
                f"/incidents/{incident_id}/silence",
                {"duration": "custom", "custom": "90m", "comment": "deploy"},
                htmx=True,
            )
            assert custom.status_code == 200, custom.text
            with world.rt.engine.connect() as conn:
                silences = list(conn.execute(select(SILENCE).order_by(SILENCE.c.created_at)))
            assert len(silences) == 2
            assert {s.created_by for s in silences} == {"alice"}
            lengths = sorted(s.ends_at - s.starts_at for s in silences)
            assert lengths == [timedelta(minutes=30), timedelta(minutes=90)]
            assert all('service="api"' in s.matchers or 'alertname="HighErrorRate"' in s.matchers
                       for s in silences)  # fmt: skip
            kinds = [row[:2] for row in timeline_rows(world, incident_id)]
            assert kinds.count(("silenced", "alice")) == 2
            for bad, field in (({"duration": "custom", "custom": "soon"}, "custom"),
                               ({"duration": "custom", "custom": "0s"}, "custom"),
                               ({"duration": "custom", "custom": "99999999d"}, "custom"),
                               ({"duration": "2y"}, "duration")):  # fmt: skip
                refused = await alice.post(f"/incidents/{incident_id}/silence", bad)
                assert refused.status_code == 422, (bad, refused.text)
                assert f"{field}:" in refused.text

            # Resolve with a note.
            resolved = await alice.post(
                f"/incidents/{incident_id}/resolve", {"note": "rolled back"}, htmx=True
            )
            assert resolved.status_code == 200
            assert 'data-status="resolved"' in resolved.text
            assert ("resolved", "alice", "resolved by alice: rolled back") in timeline_rows(
                world, incident_id
            )
            twice = await alice.post(f"/incidents/{incident_id}/resolve")
            assert twice.status_code == 409 and "already resolved" in twice.text

    asyncio.run(go())


def test_unknown_ids_viewers_and_cross_site_posts_are_refused(database_url: str) -> None:
    async def go() -> None:
        async with page_world(page_config(database_url)) as world:
            incident_id = await webhook_incident(world)
            alice = await browser(world).login("alice")
            for odd in ("999999", str(2**31), str(2**70), "abc", "0", "-1", "1e3", "\u0661"):
                answer = await alice.http.get(f"/incidents/{odd}")
                assert answer.status_code == 404, (odd, answer.status_code)
                await alice.page(incident_id)
                posted = await alice.post(f"/incidents/{odd}/ack")
                assert posted.status_code == 404, (odd, posted.status_code)
            bad = await alice.http.get(f"/incidents/{incident_id}?section=nope")
            assert bad.status_code == 422 and "section" in bad.text
            cursor = await alice.http.get(f"/incidents/{incident_id}?before={2**40}")
            assert cursor.status_code == 422 and "before" in cursor.text

            vera = await browser(world).login("vera")
            page = await vera.page(incident_id)
            assert page.status_code == 200
            for hook in ('data-key="a"', 'data-key="r"', 'data-key="s"', 'id="note-form"'):
                assert hook not in page.text, hook
            assert "<button" not in section(page.text, "incident-status")
            vera.token = alice.token  # even with a token, the role refuses
            for action in ("ack", "resolve", "note", "silence"):
                refused = await vera.post(f"/incidents/{incident_id}/{action}", {"text": "x"})
                assert refused.status_code == 403, (action, refused.text)
            assert all(row[1] != "vera" for row in timeline_rows(world, incident_id))

            # Another site's form: refused before anything happens.
            await alice.page(incident_id)
            forged = await alice.http.post(
                f"/incidents/{incident_id}/ack",
                data={"csrf": alice.token},
                headers={"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
            )
            assert forged.status_code == 403
            nobody = await browser(world).http.get(f"/incidents/{incident_id}")
            assert nobody.status_code == 303 and nobody.headers["location"].startswith("/login")

    asyncio.run(go())


def test_the_timeline_pages_and_a_refresh_keeps_what_was_loaded(database_url: str) -> None:
    async def go() -> None:
        # Nobody paged: the timeline holds only what the test writes.
        async with page_world(page_config(database_url, route={})) as world:
            incident_id = await webhook_incident(world)
            with world.rt.engine.begin() as conn:
                for n in range(120):
                    at = NOW + timedelta(seconds=n)
                    incidents.add_note(conn, incident_id, "bob", at, f"note {n}")
            with world.rt.engine.connect() as conn:
                ids = list(
                    conn.execute(
                        select(TIMELINE.c.id)
                        .where(TIMELINE.c.incident_id == incident_id)
                        .order_by(TIMELINE.c.id.desc())
                    ).scalars()
                )
            alice = await browser(world).login("alice")
            first = await alice.page(incident_id)
            shown = [int(i) for i in TIMELINE_IDS.findall(first.text)]
            assert shown == ids[:50]  # newest first
            cursor = shown[-1]
            assert f"?before={cursor}#timeline" in first.text
            assert f"section=timeline&amp;since={cursor}" in first.text

            # Without JavaScript: the next page.
            second = await alice.page(incident_id, f"?before={cursor}")
            assert [int(i) for i in TIMELINE_IDS.findall(second.text)] == ids[50:100]
            assert "Back to the newest entries" in second.text

            # With htmx: the section grows by a page, and its refresh keeps it all.
            grown = await alice.http.get(
                f"/incidents/{incident_id}?section=timeline&extend={cursor}"
            )
            grown_ids = [int(i) for i in TIMELINE_IDS.findall(grown.text)]
            assert grown_ids == ids[:100]
            since = grown_ids[-1]
            assert f"section=timeline&amp;since={since}" in grown.text
            await alice.page(incident_id)
            noted = await alice.post(f"/incidents/{incident_id}/note", {"text": "new on top"})
            assert noted.status_code == 303
            refreshed = await alice.http.get(
                f"/incidents/{incident_id}?section=timeline&since={since}"
            )
            refreshed_ids = [int(i) for i in TIMELINE_IDS.findall(refreshed.text)]
            assert len(refreshed_ids) == 101 and refreshed_ids[1:] == ids[:100]
            assert "new on top" in refreshed.text
            last = await alice.http.get(f"/incidents/{incident_id}?section=timeline&extend={since}")
            assert [int(i) for i in TIMELINE_IDS.findall(last.text)][-1] == ids[-1]
            assert "Older entries" not in last.text

    asyncio.run(go())
