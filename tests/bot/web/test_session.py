"""Session cookies, pure: signed, expiring, ended by removing the token; the clock passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.config.identities import Principal
from bot.web.session import csrf_token, csrf_valid, fingerprint, issue, session_key, verify

T0 = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
ALICE = Principal("alice", "responder", "alice")
MACHINE = Principal("token:am", "responder")
PRINCIPALS = [("alice-token-1", ALICE), ("am-token-1", MACHINE)]
KEY = session_key(None, ["alice-token-1", "am-token-1"])
assert KEY is not None


def test_a_fresh_cookie_names_its_user_until_it_expires() -> None:
    cookie = issue(KEY, "alice", "alice-token-1", T0, ttl_seconds=3600)
    session = verify(KEY, cookie, T0 + timedelta(minutes=59), PRINCIPALS)
    assert session is not None and session.principal == ALICE
    assert verify(KEY, cookie, T0 + timedelta(hours=1), PRINCIPALS) is None
    assert verify(KEY, cookie, T0 + timedelta(days=3), PRINCIPALS) is None


def test_the_cookie_holds_a_fingerprint_never_the_token() -> None:
    cookie = issue(KEY, "alice", "alice-token-1", T0, 60)
    assert "alice-token-1" not in cookie
    assert fingerprint("alice-token-1") != fingerprint("alice-token-2")


def test_a_tampered_cookie_is_refused() -> None:
    cookie = issue(KEY, "alice", "alice-token-1", T0, 3600)
    payload, signature = cookie.split(".")
    other = issue(KEY, "mallory", "alice-token-1", T0, 3600).split(".")[0]
    for forged in (
        f"{other}.{signature}",  # someone else's payload under alice's signature
        f"{payload}.{signature[:-2]}AA",
        f"{payload}x.{signature}",
        payload,
        "",
        "a.b.c",
        "!!!.???",
    ):
        assert verify(KEY, forged, T0, PRINCIPALS) is None, forged


def test_another_key_refuses_the_cookie() -> None:
    cookie = issue(KEY, "alice", "alice-token-1", T0, 3600)
    assert verify(session_key("a-session-secret", []), cookie, T0, PRINCIPALS) is None
    assert verify(None, cookie, T0, PRINCIPALS) is None


def test_removing_the_token_ends_the_session() -> None:
    key = session_key("shared-secret", [])
    assert key is not None
    cookie = issue(key, "alice", "alice-token-1", T0, 3600)
    assert verify(key, cookie, T0, PRINCIPALS) is not None
    assert verify(key, cookie, T0, [("am-token-1", MACHINE)]) is None
    # Alice's new token: the old login does not carry over.
    assert verify(key, cookie, T0, [("alice-token-2", ALICE)]) is None
    # The same token now standing for someone else: no session either.
    bob = Principal("bob", "admin", "bob")
    assert verify(key, cookie, T0, [("alice-token-1", bob)]) is None


def test_the_derived_key_depends_on_the_tokens_not_their_order() -> None:
    assert session_key(None, ["b", "a"]) == session_key(None, ["a", "b"])
    assert session_key(None, ["a"]) != session_key(None, ["a", "b"])
    assert session_key(None, []) is None
    # A secret wins over the tokens, so sessions survive token changes.
    assert session_key("s", ["a"]) == session_key("s", ["a", "b"]) != session_key(None, ["a"])


def test_csrf_tokens_are_bound_to_one_login() -> None:
    first = issue(KEY, "alice", "alice-token-1", T0, 3600).split(".")[1]
    second = issue(KEY, "alice", "alice-token-1", T0 + timedelta(seconds=1), 3600).split(".")[1]
    token = csrf_token(KEY, f"session\0{first}")
    assert csrf_valid(KEY, f"session\0{first}", token)
    assert not csrf_valid(KEY, f"session\0{second}", token)
    assert not csrf_valid(KEY, f"session\0{first}", None)
    assert not csrf_valid(KEY, f"session\0{first}", "")
