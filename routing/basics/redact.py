"""Showing a URL that may carry credentials (apprise contacts and channels, database URLs).

Apprise URLs keep their secrets in every part: a password (`mailto://user:pass@host`),
the path (`slack://T/B/secret`, `ntfy://host/topic`), even the host
(`tgram://bottoken/chat`). So only the scheme, and a host that is plainly a host name or
an address, are shown; everything else becomes `***`.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import unquote

REDACTED: Final = "***"


class CredentialURL:
    """Annotated marker for config fields whose values may be URLs with credentials: log
    scrubbing collects them, and dumps show them through `redact_url`."""

    def __repr__(self) -> str:
        return "CredentialURL()"


CREDENTIAL_URL: Final = CredentialURL()

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
# A host shown as is: localhost, an IPv4/IPv6 address, or a dotted DNS name.
_PLAIN_HOST = re.compile(
    r"localhost|\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+",
)
_HOST_PORT = re.compile(r"(?P<host>\[[^\]]*\]|[^:]*)(?::(?P<port>\d{1,5}))?")


def is_url(text: str) -> bool:
    scheme, sep, _ = text.partition("://")
    return bool(sep) and _SCHEME.fullmatch(scheme) is not None


def redact_url(url: str) -> str:
    """`mailto://u:p@mail.example.com` -> `mailto://***@mail.example.com`,
    `slack://T/B/secret` -> `slack://***/***`, `json://10.0.0.1:80/x` -> `json://10.0.0.1:80/***`.
    Text that is not a URL (`slack:#ops`, `discord:123`) carries no credentials: unchanged."""
    scheme, sep, rest = url.strip().partition("://")
    if not sep:
        return url
    if not _SCHEME.fullmatch(scheme):
        return REDACTED
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:end], rest[end:]
    _userinfo, at, host_port = authority.rpartition("@")
    shown = f"{scheme}://{REDACTED}@" if at else f"{scheme}://"
    match = _HOST_PORT.fullmatch(host_port)
    host, port = (match.group("host"), match.group("port")) if match else ("", None)
    if host and _PLAIN_HOST.fullmatch(host):
        shown += host + (f":{port}" if port else "")
    elif host_port:
        shown += REDACTED
    if tail.strip("/"):
        shown += f"/{REDACTED}"
    return shown


def url_credentials(url: str) -> list[str]:
    """The parts of a URL to scrub from log text besides the URL itself: its password."""
    _scheme, sep, rest = url.partition("://")
    if not sep:
        return []
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    userinfo, at, _ = rest[:end].rpartition("@")
    _user, colon, password = userinfo.partition(":")
    if not (at and colon and password):
        return []
    return sorted({password, unquote(password)})


def scrub_url(text: str, url: str) -> str:
    """`text` (a notifier's error, say) without `url`, without what follows its scheme
    (`host/path` as an underlying http:// URL shows it) and without its password."""
    if not is_url(url):
        return text
    rest = url.partition("://")[2]
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    beyond_userinfo = rest[:end].rpartition("@")[2] + rest[end:]
    parts = {url, rest, beyond_userinfo, *url_credentials(url)} - {""}
    for secret in sorted(parts, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text
