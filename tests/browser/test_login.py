"""Logging in and out through the /login form, in a real browser."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.pages import PageFactory
from tests.browser.world import ALICE, MACHINE, World


def test_log_in_with_a_personal_token_then_log_out(world: World, new_page: PageFactory) -> None:
    page = new_page()
    # The refused logins answer 401 and 403, which Chromium logs.
    new_page.allow("status of 401 (Unauthorized)")
    new_page.allow("status of 403 (Forbidden)")
    page.goto(world.url + "/")
    expect(page).to_have_url(world.url + "/login?next=/")
    token = page.get_by_label("Your personal API token")

    token.fill("not-a-token-at-all")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("token: not a token firebell knows")
    token.fill(MACHINE)  # a machine token is not a person
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("personal token")

    token.fill(ALICE)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(world.url + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Incidents")
    expect(page.get_by_role("banner")).to_contain_text("alice (responder)")
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "firebell_session"]
    assert (cookie["httpOnly"], cookie["sameSite"]) == (True, "Lax")
    assert ALICE not in cookie["value"]

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    assert not [c for c in page.context.cookies() if c["name"] == "firebell_session"]
    page.goto(world.url + "/oncall")
    expect(page).to_have_url(world.url + "/login?next=/oncall")
