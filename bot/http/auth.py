"""Request authentication: bearer tokens, basic auth, and URL tokens, compared in
constant time. An empty allow-list means "open" (the app only permits that on loopback)."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping, Sequence
from typing import TypeVar

Who = TypeVar("Who")


def _equal(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def bearer_token(headers: Mapping[str, str]) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def basic_credentials(headers: Mapping[str, str]) -> tuple[str, str] | None:
    value = headers.get("authorization", "")
    scheme, _, encoded = value.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def token_allowed(given: str | None, allowed: Sequence[str]) -> bool:
    """`given` is one of `allowed` (the webhooks' check: any allowed token will do)."""
    return identify(given, [(token, True) for token in allowed]) is not None


def identify(given: str | None, owners: Sequence[tuple[str, Who]]) -> Who | None:
    """Who `given` stands for among (token, owner) pairs, or None. Every token is compared,
    so timing reveals neither whether nor which one matched."""
    if given is None:
        return None
    found: Who | None = None
    for expected, owner in owners:
        if _equal(given, expected) and found is None:
            found = owner
    return found


def basic_allowed(headers: Mapping[str, str], username: str, password: str) -> bool:
    creds = basic_credentials(headers)
    if creds is None:
        return False
    return _equal(creds[0], username) & _equal(creds[1], password)
