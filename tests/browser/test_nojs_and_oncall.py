"""Without JavaScript a silence is a plain form (POST, 303, the list); the on-call page
shows hand-offs across the EU spring change in each viewer's zone with UTC on hover."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

from tests.browser.pages import PageFactory
from tests.browser.world import ALICE, BOB, World, login, unique

# Saturday before the 2027-03-28 EU change: the next hand-offs are Monday 09:00 Berlin
# time on each side of it (08:00 UTC in CET, 07:00 UTC in CEST).
BEFORE_CHANGE = "2027-03-20T12:00:00Z"


def test_silence_with_javascript_disabled(world: World, new_page: PageFactory) -> None:
    page = login(new_page(java_script_enabled=False), world.url, ALICE, "/silences", live=False)
    expect(page.locator("#live-status")).to_have_text("not live")
    service, comment = unique("nojs"), unique("maintenance window ")
    page.get_by_text("New silence").click()  # a <details>: opens without JavaScript
    page.get_by_label("Matchers, one a line").fill(f'service="{service}"')
    page.get_by_role("radio", name="1h").check()
    page.get_by_label("Comment").fill(comment)

    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Create silence").click()
    assert posted.value.status == 303
    assert posted.value.headers["location"].startswith("/silences")
    expect(page).to_have_url(re.compile(r"/silences(\?.*)?$"))
    row = page.locator("#silences tr[data-silence-id]", has_text=comment)
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-state", "active")
    expect(row).to_contain_text(f'service="{service}"')
    expect(row).to_contain_text("alice")
    silences = world.api.get("/api/v1/silences").json()["items"]
    assert [s["created_by"] for s in silences if s["comment"] == comment] == ["alice"]


def handoffs(page: Page, world: World, token: str) -> Locator:
    login(page, world.url, token, f"/oncall?at={BEFORE_CHANGE}")
    board = page.locator('#oncall article[data-schedule="primary"]')
    expect(board.get_by_role("heading", level=3)).to_contain_text("primary")
    return board


def test_oncall_across_the_dst_change_in_each_viewers_zone(
    world: World, new_page: PageFactory
) -> None:
    bob = handoffs(new_page(), world, BOB)  # Europe/Berlin
    expect(bob.locator(".oncall-now")).to_have_text("alice")
    rows = bob.locator("table.handoffs tbody tr")
    expect(rows).to_have_count(3)
    before, after = rows.nth(0), rows.nth(1)
    expect(before).to_have_attribute("data-handoff", re.compile(r"^2027-03-22T08:00"))
    expect(after).to_have_attribute("data-handoff", re.compile(r"^2027-03-29T07:00"))
    expect(before.locator("time")).to_have_text("2027-03-22 09:00 CET")
    expect(after.locator("time")).to_have_text("2027-03-29 09:00 CEST")
    expect(before.locator("time")).to_have_attribute("title", "2027-03-22 08:00 UTC")
    expect(after.locator("time")).to_have_attribute("title", "2027-03-29 07:00 UTC")
    expect(before.get_by_role("cell").nth(1)).to_have_text("bob")
    expect(after.get_by_role("cell").nth(1)).to_have_text("alice")

    alice = handoffs(new_page(), world, ALICE)  # America/New_York, already on EDT
    rows = alice.locator("table.handoffs tbody tr")
    expect(rows.nth(0).locator("time")).to_have_text("2027-03-22 04:00 EDT")
    expect(rows.nth(1).locator("time")).to_have_text("2027-03-29 03:00 EDT")
    expect(rows.nth(1).locator("time")).to_have_attribute("title", "2027-03-29 07:00 UTC")
    expect(alice.locator("p.now time")).to_have_text("2027-03-22 04:00 EDT")
