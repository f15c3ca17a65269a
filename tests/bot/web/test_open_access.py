"""The quick start's view: no tokens configured (loopback only), the page is open, and the
header says so (whose name actions are recorded under) instead of a person's name."""

from __future__ import annotations

from tests.bot.web import web_client


def test_open_access_is_named_in_the_header_without_a_logout(database_url: str) -> None:
    with web_client.client(database_url, api_tokens=[]) as http:
        page = http.get("/")
        assert page.status_code == 200, page.text
        who = page.text.split('<span class="user"', 1)[1].split("</span>", 1)[0]
        assert "open access" in who and "recorded as api" in who, who
        assert 'action="/logout"' not in page.text and "(admin)" not in who


def test_a_logged_in_person_sees_their_name_and_role(database_url: str) -> None:
    with web_client.client(database_url) as http:
        web_client.log_in(http, web_client.VERA_TOKEN)
        page = http.get("/")
        who = page.text.split('<span class="user"', 1)[1].split("</span>", 1)[0]
        assert "vera <small>(viewer)" in who and "open access" not in who
        assert 'action="/logout"' in page.text
