"""Rendering: times in the viewer's zone with UTC on hover, spans and relative times,
the CSRF field from an imported macro, autoescape, static URLs that change with content."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.web.templating import ENV, _Clock, _clock, ago, duration, local, static_url
from tests.bot.web.web_client import client, log_in

NOW = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("span", "text"),
    [
        (0, "0s"),
        (12, "12s"),
        (250, "4m 10s"),
        (3900, "1h 5m"),
        (3600, "1h"),
        (3601, "1h"),  # two units from the largest: the second is left out, not shown alone
        (timedelta(days=2, hours=3, minutes=4), "2d 3h"),
        (-90, "-1m 30s"),
    ],
)
def test_duration(span: int | timedelta, text: str) -> None:
    assert duration(span) == text


def test_relative_times() -> None:
    assert ago(NOW - timedelta(minutes=5), NOW) == "5m ago"
    assert ago(NOW + timedelta(minutes=10), NOW) == "in 10m"
    assert ago(NOW - timedelta(seconds=10), NOW) == "just now"
    assert ago(None, NOW) == ""


def test_local_time_in_the_viewers_zone_across_dst() -> None:
    # 03:00 UTC is 04:00 in Berlin in winter; a summer time is shown with its own offset.
    assert local(NOW, BERLIN, NOW) == "04:00 CET"
    assert local(datetime(2026, 7, 1, 12, 0, tzinfo=UTC), BERLIN, NOW) == "2026-07-01 14:00 CEST"
    assert local(datetime(2026, 12, 6, 3, 0), BERLIN, NOW) == "04:00 CET"  # naive is UTC


def test_macros_render_with_the_render_state() -> None:
    page = ENV.from_string(
        '{% import "_macros.html" as m %}{{ m.when(t) }}|{{ m.csrf_field() }}|{{ m.severity(s) }}'
    )
    token = _clock.set(_Clock(NOW, BERLIN, "tok-123"))
    try:
        out = page.render(t=NOW, s="<critical>")
    finally:
        _clock.reset(token)
    assert (
        '<time datetime="2026-12-06T03:00:00Z" title="2026-12-06 03:00 UTC">04:00 CET</time>' in out
    )
    assert '<input type="hidden" name="csrf" value="tok-123">' in out
    assert "&lt;critical&gt;" in out and "<critical>" not in out


def test_static_urls_carry_a_content_version() -> None:
    assert static_url("app.js").startswith("/static/app.js?v=")
    with pytest.raises(KeyError):
        static_url("missing.js")


def test_a_page_in_the_users_zone_with_security_headers(database_url: str) -> None:
    http = client(database_url)
    log_in(http)  # alice: Europe/Berlin
    page = http.get("/probe/page")
    assert page.status_code == 200
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert '<meta name="csrf-token"' in page.text and "alice" in page.text
    assert 'id="live-status"' in page.text and '<main id="main">' in page.text
    # Static files are served from the package.
    js = http.get(static_url("vendor/htmx.min.js"))
    assert js.status_code == 200 and "htmx" in js.text[:200]
    assert http.get("/static/app.css").status_code == 200
