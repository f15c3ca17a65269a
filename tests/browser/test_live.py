"""Live updates in a real browser: a new alert shows in an open list without a reload, a
second person's tab sees an acknowledgement, the tab title counts open incidents, and the
indicator says live, then reconnecting when the server goes away."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.pages import PageFactory
from tests.browser.world import ALICE, BOB, World, list_row, login, settled, unique
from tests.support.tcp_proxy import TcpProxy

MARK_PAGE = "window.__samePage = true"  # gone after any reload or navigation
SAME_PAGE = "() => window.__samePage === true"
# What Chromium logs when the server goes away mid-stream and refuses reconnects.
OUTAGE_ERRORS = (
    "ERR_INCOMPLETE_CHUNKED_ENCODING",
    "ERR_CONNECTION_RESET",
    "ERR_CONNECTION_REFUSED",
    "ERR_EMPTY_RESPONSE",
    "ERR_SOCKET_NOT_CONNECTED",
)


def allow_outage(new_page: PageFactory) -> None:
    for cut in OUTAGE_ERRORS:
        new_page.allow(f"net::{cut}")
    new_page.allow("htmx:sse:error")  # htmx's SSE extension logs each failed reconnect


def test_a_posted_alert_appears_in_the_open_list_and_the_tab_title(
    world: World, new_page: PageFactory
) -> None:
    page = login(new_page(), world.url, ALICE)
    page.evaluate(MARK_PAGE)
    name = unique("DiskFull")
    incident_id = world.post_alert(name)

    row = list_row(page, incident_id)
    expect(row).to_contain_text(name)
    expect(row).to_have_attribute("data-status", "triggered")
    expect(page).to_have_title(f"({world.open_count()}) open incidents · firebell")
    assert page.evaluate(SAME_PAGE)


def test_an_ack_in_the_list_shows_in_another_persons_tab(
    world: World, new_page: PageFactory
) -> None:
    incident_id = world.post_alert()
    alice = login(new_page(), world.url, ALICE)
    bob = login(new_page(), world.url, BOB, f"/incidents/{incident_id}")
    bob.evaluate(MARK_PAGE)
    expect(bob.locator("#incident-status")).to_have_attribute("data-status", "triggered")

    row = list_row(alice, incident_id)
    row.get_by_role("button", name=f"Ack #{incident_id}").click()
    expect(row).to_have_attribute("data-status", "acknowledged")
    expect(row.get_by_role("cell", name="alice", exact=True)).to_be_visible()
    expect(alice.get_by_role("button", name=f"Ack #{incident_id}")).to_have_count(0)

    status = bob.locator("#incident-status")
    expect(status).to_have_attribute("data-status", "acknowledged")
    expect(status).to_contain_text("by alice")
    expect(bob.locator("#timeline li[data-kind=acknowledged]")).to_contain_text("alice")
    assert bob.evaluate(SAME_PAGE)
    assert world.incident(incident_id)["acknowledged_by"] == "alice"


def test_the_indicator_says_reconnecting_while_the_server_is_away(
    world: World, new_page: PageFactory
) -> None:
    host, port = world.url.removeprefix("http://").split(":")
    with TcpProxy((host, int(port))) as proxy:
        through = f"http://127.0.0.1:{proxy.port}"
        # Settled: the refreshes the stream's hello started are done before the cut.
        page = settled(login(new_page(), through, ALICE))
        indicator = page.locator("#live-status")
        expect(indicator).to_have_text("live")
        # The stream is cut and reconnects are refused, as when the server restarts.
        allow_outage(new_page)
        proxy.go_down()
        expect(indicator).to_have_attribute("data-state", re.compile("reconnecting|polling"))
        expect(indicator).to_have_text(re.compile("reconnecting|polling"))
        proxy.heal()
        expect(indicator).to_have_text("live", timeout=20_000)
        # Back live, the list catches up with what happened meanwhile.
        incident_id = world.post_alert()
        expect(list_row(page, incident_id)).to_be_visible()


def test_an_action_without_an_answer_says_so_on_the_page(
    world: World, new_page: PageFactory
) -> None:
    """The server goes away between loading the page and pressing Acknowledge: the page
    says the action may not have been applied (not silence); back live, it can be done."""
    incident_id = world.post_alert()
    host, port = world.url.removeprefix("http://").split(":")
    with TcpProxy((host, int(port))) as proxy:
        through = f"http://127.0.0.1:{proxy.port}"
        page = settled(login(new_page(), through, ALICE, f"/incidents/{incident_id}"))
        allow_outage(new_page)
        new_page.allow("htmx:error: Failed to fetch")  # htmx logs the unanswered POST
        proxy.go_down()
        page.get_by_role("button", name="Acknowledge").click()
        flash = page.locator("#flash [role=alert]")
        expect(flash).to_contain_text("No answer from firebell")
        expect(flash).to_contain_text("may not have been applied")
        assert world.incident(incident_id)["status"] == "triggered"

        proxy.heal()
        expect(page.locator("#live-status")).to_have_text("live", timeout=20_000)
        page.get_by_role("button", name="Acknowledge").click()
        expect(page.locator("#incident-status")).to_have_attribute("data-status", "acknowledged")
        expect(flash).to_have_count(0)  # answered now: the warning is gone
    assert world.incident(incident_id)["status"] == "acknowledged"


def test_a_refused_stream_falls_back_to_polling_and_retries(
    world: World, new_page: PageFactory
) -> None:
    """The stream refused from the start (as at the per-process cap, 503): the page says
    polling, still refreshes every 30 s, and goes live once the stream is accepted."""
    page = new_page()
    page.route("**/events", lambda route: route.fulfill(status=503, body="busy"))
    new_page.allow("503")  # the refused stream's console line
    login(page, world.url, ALICE, live=False)
    page.evaluate(MARK_PAGE)
    indicator = page.locator("#live-status")
    expect(indicator).to_have_text("polling", timeout=10_000)
    page.unroute("**/events")
    incident_id = world.post_alert()
    expect(list_row(page, incident_id)).to_be_visible(timeout=40_000)  # the next poll
    expect(indicator).to_have_text("live", timeout=10_000)  # ...which retried the stream
    assert page.evaluate(SAME_PAGE)
