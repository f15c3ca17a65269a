"""A step's output before it is stored: secrets redacted, then capped.

Pure functions. Log lines are untrusted text that may quote credentials (a request log
with an Authorization header, a stack trace printing a DSN), so every configured secret
value and the common token shapes are replaced by `***` before anything is kept, shown
on the timeline or posted in chat. Redaction runs on the whole text first (a private key
spans lines), capping second: cutting lines out of redacted text cannot bring a secret
back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import orjson

REDACTED = "***"
MAX_LINES = 500
MAX_BYTES = 256 * 1024
EXCERPT_LINES = 5
EXCERPT_CHARS = 500

_TOKEN_CHARS = r"[A-Za-z0-9\-._~+/]"
# (pattern, replacement): each keeps what names the credential and hides its value.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Private key blocks, whole; cut off before their END line (a capped log), the
    # base64 lines that follow (also as JSON-escaped "\n" inside one line).
    (
        re.compile(
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----"
            r"(?:.*?-----END [A-Z0-9 ]*PRIVATE KEY-----|(?:(?:\s|\\n)*[A-Za-z0-9+/=]+)*)",
            re.DOTALL,
        ),
        f"-----BEGIN PRIVATE KEY-----{REDACTED}-----END PRIVATE KEY-----",
    ),
    # Authorization: Bearer x / Basic x / ApiKey x / token x, as a header or a JSON key.
    (
        re.compile(
            r"(?i)((?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?)"
            r"(?:(?:bearer|basic|token|apikey|digest|negotiate)\s+)?[^\s\"',;]+"
        ),
        rf"\1{REDACTED}",
    ),
    (re.compile(rf"(?i)(bearer\s+){_TOKEN_CHARS}+=*"), rf"\1{REDACTED}"),
    # Credentials in URLs: user:password@ and Sentry DSNs (key@host).
    (re.compile(r"(?i)([a-z][a-z0-9+.-]*://)[^\s/?#@\"']+@"), rf"\1{REDACTED}@"),
    # password=... and friends in query strings, forms and key=value logs.
    (
        re.compile(
            r"(?i)((?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?token"
            r"|client[_-]?secret|aws_secret_access_key)[\"']?\s*[=:]\s*[\"']?)[^\s&\"',;#]+"
        ),
        rf"\1{REDACTED}",
    ),
    (re.compile(r"(?:AKIA|ASIA)[0-9A-Z]{16}"), REDACTED),
    (re.compile(r"gh[pousr]_[A-Za-z0-9]{20,}"), REDACTED),
    (re.compile(r"github_pat_[A-Za-z0-9_]{20,}"), REDACTED),
    (re.compile(r"xox[abprse]-[A-Za-z0-9-]{8,}"), REDACTED),
    (re.compile(r"xapp-[A-Za-z0-9-]{8,}"), REDACTED),
    (re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*)?"), REDACTED),
)


def secret_forms(secrets: Iterable[str]) -> list[str]:
    """Each secret as it may appear in text: as is, JSON-escaped, percent-encoded;
    longest first. A value of only `*` is left out: it is indistinguishable from the
    redaction mark (and replacing it would never end)."""
    forms: set[str] = set()
    for secret in secrets:
        if not secret or not secret.strip("*"):
            continue
        forms.update((secret, orjson.dumps(secret).decode()[1:-1], quote(secret, safe="")))
    return sorted(forms, key=len, reverse=True)


class Redactor:
    """Redacts configured secret values and token patterns from text (build once)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms = secret_forms(secrets)
        self._secrets = re.compile("|".join(map(re.escape, forms))) if forms else None

    def text(self, text: str) -> str:
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        if self._secrets is not None:
            # A replacement can join with its neighbours into another secret's value
            # ("ab" + "***" when a secret is "b***"); each pass removes at least one
            # character that is not "*", so this ends.
            while True:
                text, count = self._secrets.subn(REDACTED, text)
                if count == 0 or self._secrets.search(text) is None:
                    break
        return text

    def value(self, value: Any) -> Any:
        """Every string inside a JSON-like value (facts, the request shown)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value


@dataclass(frozen=True, slots=True)
class Output:
    """What is stored for a step: the newest lines that fit, and what was cut."""

    lines: list[str]
    cut_lines: int
    cut_bytes: int

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def cap_lines(
    lines: Sequence[str], max_lines: int = MAX_LINES, max_bytes: int = MAX_BYTES
) -> Output:
    """Keep the newest lines (the last ones: backends return oldest first) within
    `max_lines` and `max_bytes` (UTF-8, a newline between lines); a single line longer
    than the budget keeps its end."""
    kept: list[str] = []
    used = 0
    for line in reversed(lines):
        if len(kept) >= max_lines:
            break
        size = len(line.encode()) + (1 if kept else 0)
        if used + size > max_bytes:
            if not kept:  # the newest line alone is too long: keep its end
                tail = line.encode()[-max_bytes:].decode(errors="ignore")
                kept.append(tail)
                used = len(tail.encode())
            break
        kept.append(line)
        used += size
    kept.reverse()
    total_bytes = sum(len(line.encode()) for line in lines) + max(len(lines) - 1, 0)
    # A shortened line counts as kept; its cut part counts in the bytes.
    return Output(kept, len(lines) - len(kept), max(total_bytes - used, 0))


def prepare_output(lines: Sequence[str], redactor: Redactor) -> Output:
    """Redact (over the whole text), then cap."""
    if not lines:
        return Output([], 0, 0)
    redacted = redactor.text("\n".join(lines)).split("\n")
    return cap_lines(redacted)


def excerpt(
    lines: Sequence[str], max_lines: int = EXCERPT_LINES, max_chars: int = EXCERPT_CHARS
) -> str:
    """The last few lines, for the timeline and the chat thread (of redacted lines: a
    tail of redacted text holds no secret, so nothing is added to mark the cut)."""
    return "\n".join(lines[-max_lines:])[-max_chars:]
