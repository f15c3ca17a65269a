"""Alert identity for nginx lines: the masked message template and the upstream host.

Numbers, addresses, ports, hex, uuids, paths, URLs and query strings are masked, and
errno text is normalized, so one kind of error is one template whatever varies.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

# glibc's strerror texts for the errnos nginx reports most. Keyed by number, so the
# text a given libc printed (musl: "Operation timed out", some: "Unknown error")
# never splits one problem into several alerts.
ERRNO_TEXT: Mapping[str, str] = {
    "1": "Operation not permitted",
    "2": "No such file or directory",
    "11": "Resource temporarily unavailable",
    "12": "Cannot allocate memory",
    "13": "Permission denied",
    "20": "Not a directory",
    "21": "Is a directory",
    "24": "Too many open files",
    "28": "No space left on device",
    "32": "Broken pipe",
    "98": "Address already in use",
    "99": "Cannot assign requested address",
    "101": "Network is unreachable",
    "103": "Software caused connection abort",
    "104": "Connection reset by peer",
    "110": "Connection timed out",
    "111": "Connection refused",
    "112": "Host is down",
    "113": "No route to host",
}

_MASK = re.compile(
    r"(?P<errno>\((?P<errnum>\d{1,5}): [^()]*\))"
    r"|(?P<user>\buser (?:\"[^\"]*\"|'[^']*'))"
    r"|(?P<url>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'(),<>]+)"
    r"|(?P<uuid>\b[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\b)"
    r"|(?P<ip6b>\[[0-9A-Fa-f:.]+\](?::\d+)?)"
    r"|(?P<ip4>\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b)"
    r"|(?P<ip6>(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:]))"
    r"|(?P<qpath>\"/[^\"]*\")"  # a quoted path may hold spaces
    r"|(?P<path>(?<![\w.])/[^\s\"',()]*)"
    r"|(?P<hex>\b(?:0x[0-9A-Fa-f]+|(?=[0-9A-Fa-f]*[A-Fa-f])(?=[0-9A-Fa-f]*\d)[0-9A-Fa-f]{8,})\b)"
    r"|(?P<number>(?<![A-Za-z_])\d+(?:\.\d+)*)"
)
_MASKED = {
    "user": 'user "*"',
    "url": "<url>",
    "uuid": "<uuid>",
    "ip6b": "<ip>",
    "ip4": "<ip>",
    "ip6": "<ip>",
    "qpath": '"<path>"',
    "path": "<path>",
    "hex": "<hex>",
    "number": "N",
}
_SPACES = re.compile(r"\s+")


def _mask(match: re.Match[str]) -> str:
    kind = match.lastgroup
    if kind == "errnum":  # lastgroup names the innermost closed group
        kind = "errno"
    if kind == "errno":
        number = match["errnum"]
        text = ERRNO_TEXT.get(number)
        return f"({number}: {text})" if text else f"({number})"
    return _MASKED.get(kind or "", match[0])


@lru_cache(maxsize=4096)
def message_template(message: str, action: str | None = None) -> str:
    """The message with its variable parts masked: the identity of a kind of error."""
    text = _MASK.sub(_mask, message)
    if action:
        text = f"{text} while {_MASK.sub(_mask, action)}"
    return _SPACES.sub(" ", text).strip()


def upstream_host(upstream: str) -> str:
    """The host of an upstream address: no scheme, port or path. Unix sockets keep
    their path, since the socket is the identity there."""
    rest = upstream.strip()
    scheme_end = rest.find("://")
    if scheme_end > 0:
        rest = rest[scheme_end + 3 :]
    if rest.startswith("unix:"):
        socket, _, _ = rest[5:].partition(":")  # `unix:/run/app.sock:/uri`
        return f"unix:{socket}"
    if rest.startswith("["):
        close = rest.find("]")
        return rest[1:close].lower() if close > 0 else rest[1:].lower()
    end = len(rest)
    for separator in ":/?":
        found = rest.find(separator)
        if 0 <= found < end:
            end = found
    return rest[:end].lower()
