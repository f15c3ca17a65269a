"""CSRF on the page's actions: a same-site request with the token acts; a cross-site one,
a foreign Origin or a missing token is refused 403; a viewer is refused whatever it sends."""

from __future__ import annotations

import pytest

from bot.web.csrf import site_problem
from tests.bot.web.web_client import (
    ALICE_TOKEN,
    SAME_SITE,
    VERA_TOKEN,
    client,
    log_in,
    page_csrf,
)

OWN = {"http://testserver"}


@pytest.mark.parametrize(
    ("fetch_site", "origin", "allowed"),
    [
        ("same-origin", None, True),
        ("none", None, True),  # typed into the address bar, a bookmark
        ("cross-site", None, False),
        ("same-site", "http://testserver", False),  # a sibling subdomain is not this site
        (None, "http://testserver", True),
        (None, "HTTP://TESTSERVER", True),
        (None, "https://evil.example", False),
        (None, "null", False),
        (None, None, True),  # not a browser: the token alone decides
    ],
)
def test_site_check(fetch_site: str | None, origin: str | None, allowed: bool) -> None:
    assert (site_problem(fetch_site, origin, OWN) is None) is allowed


def test_same_origin_with_the_token_acts(database_url: str) -> None:
    http = client(database_url)
    log_in(http)
    token = page_csrf(http)
    answer = http.post("/probe", data={"csrf": token}, headers=SAME_SITE)
    assert answer.status_code == 200 and answer.text == "acted as alice"
    # htmx sends the token as a header (app.js), from the same page.
    header = http.post("/probe", headers={**SAME_SITE, "X-CSRF-Token": token})
    assert header.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "https://evil.example"},
    ],
)
def test_cross_site_requests_are_refused(database_url: str, headers: dict[str, str]) -> None:
    http = client(database_url)
    log_in(http)
    answer = http.post("/probe", data={"csrf": page_csrf(http)}, headers=headers)
    assert answer.status_code == 403 and "cross-site" in answer.text


def test_a_missing_or_foreign_token_is_refused(database_url: str) -> None:
    http = client(database_url)
    log_in(http)
    mine = page_csrf(http)
    assert http.post("/probe", headers=SAME_SITE).status_code == 403
    assert http.post("/probe", data={"csrf": ""}, headers=SAME_SITE).status_code == 403
    # A token from another login of the same user does not carry over.
    other = client(database_url)
    log_in(other)
    theirs = page_csrf(other)
    assert theirs != mine
    refused = http.post("/probe", data={"csrf": theirs}, headers=SAME_SITE)
    assert refused.status_code == 403 and "security token" in refused.text


def test_htmx_gets_the_refusal_as_a_flash_fragment(database_url: str) -> None:
    http = client(database_url)
    log_in(http)
    answer = http.post("/probe", headers={**SAME_SITE, "HX-Request": "true"})
    assert answer.status_code == 403
    assert answer.headers["hx-retarget"] == "#flash"
    assert "<html" not in answer.text and 'role="alert"' in answer.text


def test_a_viewer_cannot_act(database_url: str) -> None:
    http = client(database_url)
    log_in(http, VERA_TOKEN)
    answer = http.post("/probe", data={"csrf": page_csrf(http)}, headers=SAME_SITE)
    assert answer.status_code == 403
    assert "needs the responder role" in answer.text and "vera" in answer.text


def test_login_itself_refuses_cross_site_posts(database_url: str) -> None:
    http = client(database_url)
    answer = http.post(
        "/login", data={"token": ALICE_TOKEN}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert answer.status_code == 403 and "set-cookie" not in answer.headers
