"""Logging in to the page, through the real app over HTTP: personal tokens only, a signed
HttpOnly SameSite=Lax cookie that expires, logout, and a trusted proxy's user header
honoured only from the configured peers. Both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.bot.web.web_client import (
    ALICE_TOKEN,
    MACHINE_TOKEN,
    SAME_SITE,
    VERA_TOKEN,
    Clock,
    client,
    log_in,
    page_csrf,
)


def test_login_sets_a_session_cookie(database_url: str) -> None:
    clock = Clock()
    http = client(database_url, clock, web={"session_ttl": "2h"})
    assert http.get("/probe").status_code == 303
    answer = http.post(
        "/login", data={"token": ALICE_TOKEN, "next": "/probe?x=1"}, headers=SAME_SITE
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/probe?x=1"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("firebell_session=")
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=lax", "max-age=7200", "path=/"} <= flags
    assert "secure" not in flags  # plain http and no https public_url
    assert ALICE_TOKEN not in cookie
    assert http.get("/probe").text == "alice responder"
    # The session_ttl is the expiry inside the signed cookie too, not only the browser's.
    clock.now += timedelta(hours=2)
    assert http.get("/probe").status_code == 303


def test_the_cookie_is_secure_when_the_public_url_is_https(database_url: str) -> None:
    http = client(database_url, public_url="https://firebell.example.org")
    answer = http.post("/login", data={"token": ALICE_TOKEN}, headers=SAME_SITE)
    assert "secure" in answer.headers["set-cookie"].lower()


def test_not_logged_in_goes_to_the_login_form(database_url: str) -> None:
    http = client(database_url)
    answer = http.get("/probe", params={"a": "1"})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/probe%3Fa%3D1"
    htmx = http.get("/probe", headers={"HX-Request": "true"})
    assert htmx.status_code == 401 and htmx.headers["hx-redirect"].startswith("/login?next=")
    form = http.get("/login")
    assert form.status_code == 200 and 'name="token"' in form.text


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil"])
def test_login_never_redirects_off_site(database_url: str, target: str) -> None:
    http = client(database_url)
    answer = http.post("/login", data={"token": ALICE_TOKEN, "next": target}, headers=SAME_SITE)
    assert answer.headers["location"] == "/"


def test_machine_and_unknown_tokens_are_refused(database_url: str) -> None:
    http = client(database_url)
    machine = http.post("/login", data={"token": MACHINE_TOKEN}, headers=SAME_SITE)
    assert machine.status_code == 403
    assert "machine token" in machine.text and "set-cookie" not in machine.headers
    assert MACHINE_TOKEN not in machine.text
    unknown = http.post("/login", data={"token": "nope-nope-nope"}, headers=SAME_SITE)
    assert unknown.status_code == 401 and "token:" in unknown.text
    assert http.get("/probe").status_code == 303


def test_logout_ends_the_session(database_url: str) -> None:
    http = client(database_url)
    log_in(http)
    token = page_csrf(http)
    answer = http.post("/logout", data={"csrf": token}, headers=SAME_SITE)
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    assert "max-age=0" in answer.headers["set-cookie"].lower()
    assert http.get("/probe").status_code == 303


def test_session_secret_keeps_sessions_across_token_changes(database_url: str) -> None:
    """Without web.session_secret the key is derived from the tokens: adding a token ends
    every session. With it, only removing the session's own token does."""
    fewer = [{"token": ALICE_TOKEN, "user": "alice"}]
    for secret, survives in (("a-long-session-secret", True), (None, False)):
        web = {"session_secret": secret} if secret else {}
        first = client(database_url, web=web, api_tokens=fewer)
        log_in(first)
        cookie = first.cookies.get("firebell_session")
        second = client(database_url, web=web)  # vera's and the machine's tokens added
        second.cookies.set("firebell_session", cookie)
        assert (second.get("/probe").status_code == 200) is survives, secret
    # The session's own token removed: over, whatever the secret.
    first = client(database_url, web={"session_secret": "a-long-session-secret"})
    log_in(first)
    without_alice = [{"token": VERA_TOKEN, "user": "vera"}]
    second = client(
        database_url, web={"session_secret": "a-long-session-secret"}, api_tokens=without_alice
    )
    second.cookies.set("firebell_session", first.cookies.get("firebell_session"))
    assert second.get("/probe").status_code == 303


PROXY = {"trusted_user_header": "X-Forwarded-User", "trusted_proxies": ["10.0.0.0/8"]}


def test_trusted_proxy_header_only_from_trusted_peers(database_url: str) -> None:
    behind = client(database_url, peer=("10.1.2.3", 40000), web=PROXY)
    assert behind.get("/probe", headers={"X-Forwarded-User": "vera"}).text == "vera viewer"
    unknown = behind.get("/probe", headers={"X-Forwarded-User": "mallory"})
    assert unknown.status_code == 403 and "mallory" in unknown.text
    assert behind.get("/probe").status_code == 303  # no header: log in as usual
    # The same header from anywhere else is ignored.
    outside = client(database_url, peer=("192.0.2.7", 40000), web=PROXY)
    assert outside.get("/probe", headers={"X-Forwarded-User": "alice"}).status_code == 303
    # Without the setting no peer is trusted.
    plain = client(database_url, peer=("10.1.2.3", 40000))
    assert plain.get("/probe", headers={"X-Forwarded-User": "alice"}).status_code == 303


def test_a_proxy_named_responder_acts_with_the_csrf_token(database_url: str) -> None:
    behind = client(database_url, peer=("10.1.2.3", 40000), web=PROXY)
    behind.headers["X-Forwarded-User"] = "alice"
    token = page_csrf(behind)
    answer = behind.post("/probe", data={"csrf": token}, headers=SAME_SITE)
    assert answer.status_code == 200 and answer.text == "acted as alice"
    # That token is alice's: another proxy user cannot replay it.
    behind.headers["X-Forwarded-User"] = "vera"
    assert behind.post("/probe", data={"csrf": token}, headers=SAME_SITE).status_code == 403


def test_open_access_needs_no_login(database_url: str) -> None:
    http = client(database_url, api_tokens=[])
    assert http.get("/probe").text == "api admin"
    assert http.post("/probe", data={"csrf": page_csrf(http)}, headers=SAME_SITE).status_code == 200
