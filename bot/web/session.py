"""Signed session cookies for the page: pure functions, the clock passed in.

A cookie is `payload.signature`, both base64url: the payload is JSON {user, expiry,
fingerprint of the token logged in with}; the signature an HMAC-SHA256 under the session
key. A session ends at its expiry, when the key changes, or when its token is no longer
configured (the fingerprint then matches no token): removing a token logs its holder out.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.config.identities import Principal

COOKIE = "firebell_session"
_KEY_CONTEXT = b"firebell web session key v1\0"
_FINGERPRINT_CONTEXT = b"firebell web token fingerprint v1\0"
_CSRF_CONTEXT = b"firebell web csrf v1\0"


def session_key(session_secret: str | None, tokens: Sequence[str]) -> bytes | None:
    """The key cookies are signed with: from `web.session_secret`, else derived from the
    api_tokens (domain-separated, so it is not any token's MAC). None: nothing to derive
    from (open access, where no one logs in)."""
    if session_secret:
        return hmac.new(_KEY_CONTEXT, session_secret.encode(), hashlib.sha256).digest()
    if not tokens:
        return None
    material = b"\0".join(sorted(t.encode() for t in tokens))
    return hmac.new(_KEY_CONTEXT + b"tokens\0", material, hashlib.sha256).digest()


def fingerprint(token: str) -> str:
    """A short, one-way mark of a token: the cookie names the token without holding it."""
    return hashlib.sha256(_FINGERPRINT_CONTEXT + token.encode()).hexdigest()[:32]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: bytes, payload: str) -> str:
    return _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())


def issue(
    key: bytes, user: str, token: str, now: datetime, ttl_seconds: int, nonce: str | None = None
) -> str:
    """The cookie value for `user`, logged in with `token`, valid for ttl_seconds. The
    nonce makes every login distinct (its CSRF token is bound to that one login)."""
    body = {
        "u": user,
        "e": int(now.timestamp()) + ttl_seconds,
        "f": fingerprint(token),
        "n": nonce or secrets.token_urlsafe(9),
    }
    payload = _b64(json.dumps(body, separators=(",", ":")).encode())
    return f"{payload}.{_sign(key, payload)}"


@dataclass(frozen=True, slots=True)
class Session:
    principal: Principal
    expires: int  # epoch seconds
    signature: str  # binds the CSRF token to this one login


def verify(
    key: bytes | None,
    cookie: str | None,
    now: datetime,
    principals: Sequence[tuple[str, Principal]],
) -> Session | None:
    """The session `cookie` stands for, or None if forged, expired, or its token is gone
    (or now belongs to someone else)."""
    if key is None or not cookie or cookie.count(".") != 1:
        return None
    payload, signature = cookie.split(".")
    if not hmac.compare_digest(signature.encode(), _sign(key, payload).encode()):
        return None
    try:
        body = json.loads(_unb64(payload))
        user, expires, mark = str(body["u"]), int(body["e"]), str(body["f"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None
    if expires <= now.timestamp():
        return None
    for token, principal in principals:
        same = hmac.compare_digest(fingerprint(token).encode(), mark.encode())
        if same and principal.user == user:
            return Session(principal, expires, signature)
    return None


def csrf_token(key: bytes, binding: str) -> str:
    """The form token for one login (its signature) or one proxy-named user."""
    return _b64(hmac.new(key, _CSRF_CONTEXT + binding.encode(), hashlib.sha256).digest())


def csrf_valid(key: bytes, binding: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(
        given.encode(), csrf_token(key, binding).encode()
    )
