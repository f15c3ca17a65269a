"""Sentry webhook authentication: the HMAC-SHA256 signature headers over the raw body.

The HTTP layer calls `verify_sentry_signature` before any parser sees the body.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from integrations.sources.payload import header

SIGNATURE_HEADERS = ("Sentry-Hook-Signature", "Sentry-App-Signature")


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
