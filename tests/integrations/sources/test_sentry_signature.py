"""Sentry webhook signatures: HMAC-SHA256 over the raw body, in either header."""

from __future__ import annotations

import hashlib
import hmac

import orjson
from hypothesis import given
from hypothesis import strategies as st

from integrations.sources.sentry_signature import verify_sentry_signature
from tests.integrations.sources.sentry_support import compact, issue_payload

SECRET = "f00dbabe" * 8


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
