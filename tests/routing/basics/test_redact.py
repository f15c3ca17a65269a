"""Credential URLs shown safely (routing.basics.redact): only the scheme and a plain host
name survive; a password, path, query, or a host that is really a token never does."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing.basics.redact import redact_url, scrub_url, url_credentials


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("mailto://user:pass@mail.example.com", "mailto://***@mail.example.com"),
        ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ", "slack://***/***"),
        ("discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js", "discord://***/***"),
        ("tgram://123456789:abcdefg_hijklmnop/12315544/", "tgram://***/***"),
        ("json://127.0.0.1:9999/alice", "json://127.0.0.1:9999/***"),
        ("ntfy://ntfy.sh/private-topic", "ntfy://ntfy.sh/***"),
        ("jsons://hooks.example.com?token=abc", "jsons://hooks.example.com/***"),
        ("json://[::1]:80/x", "json://[::1]:80/***"),
        ("pover://user@token", "pover://***@***"),
        ("slack:#ops", "slack:#ops"),
        ("discord:987654321098765432", "discord:987654321098765432"),
        ("b@d://x", "***"),
    ],
)
def test_only_scheme_and_plain_hosts_are_shown(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_passwords_are_listed_for_log_scrubbing_as_written_and_decoded() -> None:
    assert url_credentials("mailto://a:p%40ss@h.io") == ["p%40ss", "p@ss"]
    assert url_credentials("json://user@h.io/x") == []
    assert url_credentials("slack:#ops") == []


SECRETS = st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=12, max_size=30)
HOSTS = st.sampled_from(["mail.example.com", "127.0.0.1", "localhost", "[::1]", "TOKENHOST"])


@given(
    scheme=st.sampled_from(["mailto", "json", "slack", "ntfy", "tgram"]),
    user=st.sampled_from(["", "bob", "bob:"]),
    password=SECRETS,
    host=HOSTS,
    path=SECRETS,
    query=st.sampled_from(["", "?token=", "#"]),
)
def test_no_secret_part_survives(
    scheme: str, user: str, password: str, host: str, path: str, query: str
) -> None:
    userinfo = f"{user}{password}@" if user.endswith(":") else (f"{user}@" if user else "")
    url = f"{scheme}://{userinfo}{host}/{path}{query}{password if query else ''}"
    shown = redact_url(url)
    assert password not in shown and path not in shown
    assert shown.startswith(f"{scheme}://")
    assert ("TOKENHOST" in shown) is False


@given(st.text(max_size=200))
def test_any_text_is_handled(text: str) -> None:
    shown = redact_url(text)
    assert isinstance(shown, str)
    if "://" in text:
        assert shown == "***" or "://" in shown


def test_a_notifiers_error_loses_the_address_in_every_form() -> None:
    url = "json://u:pw-123456@hooks.example.com/tok-123456"
    text = f"POST https://hooks.example.com/tok-123456 failed ({url}; auth u:pw-123456)"
    assert scrub_url(text, url) == "POST https://*** failed (***; auth u:***)"
    assert scrub_url("channel_not_found", "slack:#ops") == "channel_not_found"
