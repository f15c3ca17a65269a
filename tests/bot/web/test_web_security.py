"""The page's security review (issue 13): no open redirect after login whatever `next`
holds (checked as a browser reads a Location), token guessing at the login form is
throttled per address, a forwarded-for header never makes a peer a trusted proxy, and
the live stream needs a login and is capped."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin, urlsplit

from fastapi.testclient import TestClient
from hypothesis import example, given
from hypothesis import strategies as st
from starlette.responses import RedirectResponse

from bot.roles import create_app
from bot.web.auth import safe_next
from bot.web.live import MAX_STREAMS, hub
from bot.web.login_limit import LoginLimit
from tests.bot.web.web_client import ALICE_TOKEN, SAME_SITE, Clock, client, log_in, settings

SITE = "https://firebell.example/"
_C0_AND_SPACE = "".join(chr(c) for c in range(0x21))


def browser_host(location: str) -> str:
    """The host a browser goes to for `location` on SITE: WHATWG URL parsing strips
    leading/trailing C0 controls and spaces, drops tabs and newlines anywhere, and reads
    `\\` as `/` in http(s) URLs."""
    cleaned = re.sub(r"[\t\n\r]", "", location.strip(_C0_AND_SPACE)).replace("\\", "/")
    return urlsplit(urljoin(SITE, cleaned)).netloc


NASTY = st.text(
    alphabet=st.sampled_from([*"/\\.:@?#%25FCe", "\t", "\n", "\r", " ", "\x00", "\x0b", "\x7f"]),
    max_size=16,
)


@given(st.one_of(NASTY, st.builds(lambda s: "/" + s, NASTY)))
@example("/\t/evil.example")
@example("/\n/evil.example")
@example("/\r\n/evil.example")
@example("/\\evil.example")
@example("//evil.example")
@example("/%2F/evil.example")
@example("/%5Cevil.example")
@example("https://evil.example")
def test_next_never_leaves_the_site(target: str) -> None:
    kept = safe_next(target)
    assert browser_host(kept) == "firebell.example", (target, kept)
    # And as the redirect the login answers with (Starlette quotes the Location).
    location = RedirectResponse(kept, status_code=303).headers["location"]
    assert browser_host(location) == "firebell.example", (target, location)


def test_a_path_on_the_site_is_kept() -> None:
    assert safe_next("/incidents/42?x=1&y=%2F") == "/incidents/42?x=1&y=%2F"


def test_a_tab_in_next_does_not_redirect_off_site(database_url: str) -> None:
    http = client(database_url)
    answer = http.post(
        "/login", data={"token": ALICE_TOKEN, "next": "/\t/evil.example"}, headers=SAME_SITE
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/"


def test_guessing_tokens_is_throttled_per_address(database_url: str) -> None:
    clock = Clock()
    guesser = client(database_url, clock, peer=("198.51.100.9", 40000))
    for n in range(20):
        wrong = guesser.post("/login", data={"token": f"guess-{n}"}, headers=SAME_SITE)
        assert wrong.status_code == 401
    # Now even the right token is refused (a success would tell the guesser).
    blocked = guesser.post("/login", data={"token": ALICE_TOKEN}, headers=SAME_SITE)
    assert blocked.status_code == 429 and "set-cookie" not in blocked.headers
    assert "too many wrong tokens" in blocked.text and ALICE_TOKEN not in blocked.text
    assert 1 <= int(blocked.headers["retry-after"]) <= 600
    clock.now += timedelta(minutes=10)
    assert guesser.post("/login", data={"token": ALICE_TOKEN}, headers=SAME_SITE).status_code == 303


def test_the_limit_forgets_old_failures_and_bounds_its_memory() -> None:
    now = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
    limit = LoginLimit(failures=3, window=timedelta(minutes=10), max_addresses=2)
    for minute in range(3):
        limit.failed("a", now + timedelta(minutes=minute))
    assert limit.wait("a", now + timedelta(minutes=3)) == timedelta(minutes=7)
    assert limit.wait("a", now + timedelta(minutes=10)) is None  # the first one aged out
    assert limit.wait("b", now) is None
    limit.failed("b", now)
    limit.failed("c", now)  # a third address: the oldest ("a") is forgotten
    assert set(limit._seen) == {"b", "c"}


PROXY = {"trusted_user_header": "X-Forwarded-User", "trusted_proxies": ["10.0.0.0/8"]}


def test_x_forwarded_for_never_makes_a_peer_trusted(database_url: str) -> None:
    outside = client(database_url, peer=("192.0.2.7", 40000), web=PROXY)
    spoofed = {"X-Forwarded-User": "alice", "X-Forwarded-For": "10.1.2.3", "X-Real-IP": "10.1.2.3"}
    assert outside.get("/probe", headers=spoofed).status_code == 303
    assert outside.post("/probe", headers={**spoofed, **SAME_SITE}).status_code == 303


def test_the_live_stream_needs_a_login(database_url: str) -> None:
    http = client(database_url)
    anonymous = http.get("/events")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    assert "text/event-stream" not in anonymous.headers.get("content-type", "")


def test_the_live_stream_is_capped_per_process(database_url: str) -> None:
    app = create_app(settings(database_url), clock=Clock())
    live = hub(app.state.runtime)
    live.subscribers.update(object() for _ in range(MAX_STREAMS))  # type: ignore[misc]
    http = TestClient(app, follow_redirects=False)
    log_in(http)
    refused = http.get("/events")
    assert refused.status_code == 503 and "too many live pages" in refused.text


def test_the_sse_extension_registers_before_htmx_starts(database_url: str) -> None:
    """Deferred, htmx may start before hx-sse.min.js ran and then never opens the stream:
    both load blocking, in order, and the page's own script after them."""
    http = client(database_url)
    log_in(http)
    html = http.get("/probe/page").text
    scripts = re.findall(r"<script src=\"/static/([^\"?]+)\?v=[0-9a-f]+\"( defer)?>", html)
    assert scripts == [
        ("vendor/htmx.min.js", ""),
        ("vendor/hx-sse.min.js", ""),
        ("app.js", " defer"),
    ]
    assert 'hx-sse:connect="/events"' in html
