"""/reports on SQLite and PostgreSQL: a viewer sees the figures in tables and the
incidents-per-day chart as inline SVG (a <title> per bar, a text alternative and the
same numbers in a table); the period form's bad input is 422 naming the field; the
fragment for live updates; the postmortem download behind the page's login."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.bot.web.test_incident_page import TOKENS, browser, page_config
from tests.support.chat_harness import NOW, ChatWorld

BARS = re.compile(
    r'<rect class="bar"[^>]*data-day="([^"]+)" data-count="(\d+)"><title>([^<]+)</title>'
)


def section(html: str, element_id: str) -> str:
    start = html.index(f'id="{element_id}"')
    return html[start : html.index("</table>", start)]


def test_a_viewer_sees_tables_and_the_chart(database_url: str) -> None:
    clock: dict[str, Any] = {"now": NOW}

    async def go() -> None:
        async with ChatWorld.open(page_config(database_url), clock=lambda: clock["now"]) as world:
            incident_id = await world.incident("Errors <b>")
            await world.incident("Latency", service="db")
            clock["now"] = NOW + timedelta(minutes=1)  # the period ends now, exclusive
            vera = await browser(world).login("vera")

            page = await vera.http.get("/reports")
            assert page.status_code == 200
            html = page.text
            assert '<section id="reports"' in html and "<h1>Reports</h1>" in html
            bars = BARS.findall(html)
            assert len(bars) == 8  # seven 24h days from 10:00 touch eight UTC dates
            assert bars[-1] == ("2026-03-02", "2", "2026-03-02: 2 incidents")
            assert bars[0][1] == "0"
            svg = html[html.index('<svg id="per-day-chart"') :]
            svg = svg[: svg.index(">")]
            assert 'role="img"' in svg and "2026-03-02 2" in svg
            assert "<tr><td>2026-03-02</td><td>2</td></tr>" in section(html, "per-day-table")
            assert 'data-service="api"' in section(html, "by-service")
            assert 'data-service="db"' in section(html, "by-service")
            noisy = section(html, "noisiest")
            assert "Errors &lt;b&gt; on api" in noisy and "<b>" not in noisy
            assert "<dt>Still open</dt><dd>2</dd>" in html
            assert "No alert flapped in this period." in html

            fragment = await vera.http.get("/reports?section=reports&days=30")
            assert fragment.text.lstrip().startswith("{%") is False
            assert '<section id="reports"' in fragment.text and "<h1>" not in fragment.text
            assert "section=reports&amp;days=30" in fragment.text

            earlier = await vera.http.get("/reports?from=2026-02-01&to=2026-02-28")
            assert earlier.status_code == 200
            assert "No incidents opened in this period." in earlier.text
            assert len(BARS.findall(earlier.text)) == 28

            for query, field in [
                ("days=0", "days"),
                ("days=abc", "days"),
                ("from=2026-03-05&to=2026-03-01", "from"),
                ("from=2024-01-01&to=2026-01-01", "from"),
                ("from=soon", "from"),
            ]:
                bad = await vera.http.get(f"/reports?{query}")
                assert bad.status_code == 422, query
                assert f"{field}:" in bad.text and 'aria-invalid="true"' in bad.text

            download = await vera.http.get(f"/incidents/{incident_id}/postmortem")
            assert download.status_code == 200
            assert download.headers["content-type"] == "text/markdown; charset=utf-8"
            assert download.text.startswith(
                f"# Postmortem: incident \\#{incident_id}: Errors \\<b\\>"
            )
            as_json = await vera.http.get(f"/incidents/{incident_id}/postmortem?format=json")
            assert as_json.json()["incident"]["id"] == incident_id
            assert (await vera.http.get("/incidents/999/postmortem")).status_code == 404
            assert (await vera.http.get("/incidents/x/postmortem")).status_code == 404
            bad_format = await vera.http.get(f"/incidents/{incident_id}/postmortem?format=pdf")
            assert bad_format.status_code == 422

            # Nobody logged in: sent to the login page, for the report and the download.
            anonymous = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=world.app), base_url="http://firebell"
            )
            for path in ("/reports", f"/incidents/{incident_id}/postmortem"):
                away = await anonymous.get(path)
                assert away.status_code == 303 and away.headers["location"].startswith("/login")

    asyncio.run(go())


def test_the_chart_scales_to_the_busiest_day(database_url: str) -> None:
    clock: dict[str, Any] = {"now": NOW}

    async def go() -> None:
        async with ChatWorld.open(page_config(database_url), clock=lambda: clock["now"]) as world:
            for n in range(3):
                await world.incident(f"A{n}")
            clock["now"] = NOW + timedelta(days=1)
            await world.incident("B")
            clock["now"] += timedelta(minutes=1)
            vera = await browser(world).login("vera")
            assert TOKENS["vera"]
            html = (await vera.http.get("/reports?days=2")).text
            heights = {
                day: float(h)
                for h, day in re.findall(
                    r'<rect class="bar"[^>]*height="([\d.]+)" '
                    r'fill="currentColor" data-day="([^"]+)"',
                    html,
                )
            }
            assert heights["2026-03-02"] == pytest.approx(3 * heights["2026-03-03"], abs=0.02)
            assert heights["2026-03-03"] > 0
            assert "peak 3" in html

    asyncio.run(go())
