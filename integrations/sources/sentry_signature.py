"""Sentry webhook authentication: the HMAC-SHA256 signature headers over the raw body,
and the freshness of `Sentry-Hook-Timestamp` so a captured request cannot be replayed
later.

The HTTP layer calls `verify_sentry_signature` and `timestamp_fresh` before any parser
sees the body.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import datetime, timedelta

from integrations.sources.payload import header

SIGNATURE_HEADERS = ("Sentry-Hook-Signature", "Sentry-App-Signature")
TIMESTAMP_HEADER = "Sentry-Hook-Timestamp"
TIMESTAMP_WINDOW = timedelta(minutes=5)
# Unix seconds as Sentry sends them: "1764000000" or "1764000000.123" (ASCII digits only).
_UNIX_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def verify_sentry_signature(body: bytes, headers: Mapping[str, str], client_secret: str) -> bool:
    """True when a signature header is the HMAC-SHA256 (hex) of the raw body.

    Checks `Sentry-Hook-Signature` and, like Sentry's example app, also
    `Sentry-App-Signature`. Always over the raw bytes: re-serialized JSON differs.
    """
    if not client_secret:
        return False  # an unset secret must never verify anything
    expected = hmac.new(client_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    verified = False
    for name in SIGNATURE_HEADERS:
        given = header(headers, name)
        if given is not None:
            candidate = given.strip().lower().encode("utf-8", "surrogatepass")
            # Evaluate every header (no short-circuit) so timing does not depend on which.
            verified |= hmac.compare_digest(expected.encode("ascii"), candidate)
    return verified


def timestamp_fresh(value: str | None, now: datetime, window: timedelta = TIMESTAMP_WINDOW) -> bool:
    """True when `value` (a `Sentry-Hook-Timestamp`: Unix seconds, integer or with a
    fraction) is at most `window` before or after `now` (timezone-aware).

    Missing, empty or unparsable values (signs, exponents, "nan", "inf") are not fresh.
    """
    if value is None:
        return False
    text = value.strip()
    if _UNIX_SECONDS.fullmatch(text) is None:
        return False
    skew = abs(float(text) - now.timestamp())  # an absurdly long value is inf: not fresh
    return skew <= window.total_seconds()
