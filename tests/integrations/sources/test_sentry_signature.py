"""Sentry webhook signatures: HMAC-SHA256 over the raw body, in either header."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from integrations.sources.sentry_signature import timestamp_fresh, verify_sentry_signature
from tests.integrations.sources.sentry_support import compact, issue_payload

SECRET = "f00dbabe" * 8
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
NOW_S = int(NOW.timestamp())


def sign(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_signature_over_the_raw_bytes() -> None:
    body = compact(issue_payload("created"))
    assert verify_sentry_signature(body, {"sentry-hook-signature": sign(body)}, SECRET)
    assert verify_sentry_signature(body, {"Sentry-App-Signature": sign(body)}, SECRET)
    assert verify_sentry_signature(body, {"sentry-hook-signature": sign(body).upper()}, SECRET)
    # Re-serialized (pretty) JSON is a different body: it must not verify.
    pretty = orjson.dumps(orjson.loads(body), option=orjson.OPT_INDENT_2)
    assert not verify_sentry_signature(pretty, {"sentry-hook-signature": sign(body)}, SECRET)


def test_signature_rejections() -> None:
    body = b'{"action":"created"}'
    good = sign(body)
    assert not verify_sentry_signature(body, {}, SECRET)
    assert not verify_sentry_signature(body, {"sentry-hook-signature": good}, "other")
    assert not verify_sentry_signature(body, {"sentry-hook-signature": sign(body, "")}, "")
    assert not verify_sentry_signature(body + b" ", {"sentry-hook-signature": good}, SECRET)
    assert not verify_sentry_signature(body, {"sentry-hook-signature": "ünïcode"}, SECRET)
    assert not verify_sentry_signature(body, {"sentry-hook-signature": good[:-1]}, SECRET)
    # A wrong hook signature with a right app signature still verifies (either header).
    headers = {"sentry-hook-signature": "0" * 64, "sentry-app-signature": good}
    assert verify_sentry_signature(body, headers, SECRET)


@given(
    body=st.binary(max_size=256),
    secret=st.text(min_size=1, max_size=40),
    other=st.binary(max_size=8),
)
def test_signature_property(body: bytes, secret: str, other: bytes) -> None:
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert verify_sentry_signature(body, {"sentry-hook-signature": signature}, secret)
    if other:
        assert not verify_sentry_signature(
            body + other, {"sentry-hook-signature": signature}, secret
        )


@pytest.mark.parametrize(
    "value",
    [
        str(NOW_S),
        f" {NOW_S} ",
        str(NOW_S - 299),  # 4m59s old
        str(NOW_S + 299),  # 4m59s ahead
        str(NOW_S - 300),  # exactly the window
        f"{NOW_S}.123",  # with a fraction
        f"{NOW_S - 120}.5",
    ],
)
def test_timestamp_inside_the_window_is_fresh(value: str) -> None:
    assert timestamp_fresh(value, NOW, timedelta(minutes=5))


@pytest.mark.parametrize(
    "value",
    [
        None,  # missing
        "",
        "   ",
        str(NOW_S - 360),  # 6 minutes old
        str(NOW_S + 360),  # 6 minutes in the future
        f"{NOW_S - 301}.999",  # just past the window (300.001 s), fractional
        str(NOW_S - 30 * 86400),  # 30 days old: the replay from the issue
        "garbage",
        "0x6943c000",
        "-1",
        f"+{NOW_S}",
        f"{NOW_S}e0",
        "1.7e9",
        "nan",
        "inf",
        f"{NOW_S}.",
        ".5",
        "1_764_000_000",
        "١٧٦٤٠٠٠٠٠٠",  # non-ASCII digits
        "9" * 400,  # overflows to inf
        "2026-11-24T10:00:00Z",
    ],
)
def test_timestamp_missing_stale_or_unparsable_is_refused(value: str | None) -> None:
    assert not timestamp_fresh(value, NOW, timedelta(minutes=5))


def test_timestamp_window_defaults_to_five_minutes() -> None:
    assert timestamp_fresh(str(NOW_S - 299), NOW)
    assert not timestamp_fresh(str(NOW_S - 301), NOW)
