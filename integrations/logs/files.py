"""logs.file: the last N (matching) lines of a local log file the operator allowlisted.

The connection lists absolute globs (`paths: ["/var/log/api/*.log"]`); a step names one
file. The file is allowed only if its real path (every symlink resolved) matches one of
the globs, or a glob whose directory part is itself a symlink, resolved the same way,
so a link planted in /var/log/api cannot lead the read to /etc/shadow. The check is
repeated on the opened descriptor, so swapping a path component after the check does
not help either.

The file is read backwards from its end in blocks, and the read stops once N matching
lines are found or after `max_scan_bytes` (64 MiB by default, said in the result), so a
2 GiB log costs what a small one does.
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Mapping, Sequence
from datetime import datetime
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, field_validator

from integrations.connections import ConnectionBase
from integrations.logs.base import Call, Fetched, FetchError, FileCall, LogArgs, LogLine

if TYPE_CHECKING:
    from integrations.outbound import Outbound

BLOCK_BYTES = 64 * 1024
_GLOB_CHARS = frozenset("*?[")


class FilesConnection(ConnectionBase):
    """Local log files a playbook may read: absolute globs (`*`, `?`, `[...]` within one
    path segment, `**` for any number of directories)."""

    type: Literal["files"]
    paths: tuple[str, ...] = Field(min_length=1)
    max_scan_bytes: int = Field(default=64 * 1024 * 1024, gt=0)

    @field_validator("paths")
    @classmethod
    def _absolute_globs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            if not pattern.startswith("/"):
                raise ValueError(f'"{pattern}" must be an absolute path or glob')
            if "\0" in pattern or ".." in pattern.split("/"):
                raise ValueError(f'"{pattern}" must not contain ".." or NUL')
        return tuple(os.path.normpath(pattern) for pattern in value)


class FileArgs(LogArgs):
    path: str = Field(min_length=1)
    contains: str | None = Field(default=None, min_length=1)
    lines: int = Field(default=200, ge=1, le=5000)

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/") or "\0" in value:
            raise ValueError(f'"{value}" must be an absolute file path')
        return value


def _split(path: str) -> list[str]:
    return [part for part in path.split("/") if part]


def _segments_match(parts: Sequence[str], pattern: Sequence[str]) -> bool:
    if not pattern:
        return not parts
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_segments_match(parts[skip:], rest) for skip in range(len(parts) + 1))
    return bool(parts) and fnmatchcase(parts[0], head) and _segments_match(parts[1:], rest)


def glob_matches(path: str, pattern: str) -> bool:
    """Whether an absolute, normalized path matches an absolute glob, segment by segment
    (`*` never crosses a "/", unlike fnmatch on the whole string)."""
    return _segments_match(_split(path), _split(pattern))


def _resolved_pattern(pattern: str) -> str:
    """The glob with its literal directory prefix resolved (realpath): for
    /var/log/api/*.log where /var/log/api links to /data/api, /data/api/*.log."""
    parts = _split(pattern)
    literal = 0
    while literal < len(parts) - 1 and not _GLOB_CHARS & set(parts[literal]):
        literal += 1
    if literal == 0:
        return pattern
    prefix = os.path.realpath("/" + "/".join(parts[:literal]))
    return os.path.join(prefix, *parts[literal:])


def allowed_by(real_path: str, patterns: Sequence[str]) -> bool:
    """Whether a fully resolved path is one the connection's globs allow."""
    return any(
        glob_matches(real_path, form)
        for pattern in patterns
        for form in {pattern, _resolved_pattern(pattern)}
    )


def _open_allowed(path: str, patterns: Sequence[str]) -> int:
    """Open the file read-only if its real path is allowed and it is a regular file; the
    descriptor's own path is checked again, closing the check-then-open window."""
    real = os.path.realpath(path)
    if not allowed_by(real, patterns):
        shown = f"{path} (resolves to {real})" if real != path else path
        raise FetchError(f"{shown} is not allowed by the connection's paths")
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(real, flags)
    except FileNotFoundError:
        raise FetchError(f"{path} does not exist") from None
    except OSError as exc:
        raise FetchError(f"cannot open {path}: {exc.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise FetchError(f"{path} is not a regular file")
        proc_link = f"/proc/self/fd/{fd}"
        if os.path.exists(proc_link) and not allowed_by(os.readlink(proc_link), patterns):
            raise FetchError(f"{path} changed while being opened; not allowed")
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_last_lines(
    fd: int, contains: str | None, wanted: int, max_scan_bytes: int, block: int = BLOCK_BYTES
) -> tuple[list[str], int, bool]:
    """The last `wanted` non-blank lines holding `contains` (oldest first), the bytes
    read, and whether the scan stopped at `max_scan_bytes` before reaching the start.

    Reads backwards from the size the file had when the read began (lines appended
    meanwhile wait for the next read). Lines are UTF-8, invalid bytes replaced."""
    needle = contains.encode() if contains is not None else None
    found: list[bytes] = []

    def consider(raw: bytes) -> None:
        raw = raw.rstrip(b"\r")
        if raw.strip() and (needle is None or needle in raw):
            found.append(raw)

    pos = os.fstat(fd).st_size
    # Pieces, newest first, of a line that may begin before `pos`; joined once its start
    # is found (joining at every block costs quadratic time on a long line).
    carry: list[bytes] = []
    scanned = 0
    while pos > 0 and len(found) < wanted:
        if scanned >= max_scan_bytes:
            return _decoded(found), scanned, True
        size = min(block, pos, max_scan_bytes - scanned)
        pos -= size
        chunk = os.pread(fd, size, pos)
        scanned += len(chunk)
        if b"\n" not in chunk:
            carry.append(chunk)
            continue
        parts = b"".join([chunk, *reversed(carry)]).split(b"\n")
        carry = [parts[0]]
        for raw in reversed(parts[1:]):
            consider(raw)
            if len(found) >= wanted:
                break
    if pos == 0 and len(found) < wanted:
        consider(b"".join(reversed(carry)))
    return _decoded(found[:wanted]), scanned, False


def _decoded(newest_first: list[bytes]) -> list[str]:
    return [raw.decode("utf-8", errors="replace") for raw in reversed(newest_first)]


def _read(call: FileCall, connection: FilesConnection) -> Fetched:
    fd = _open_allowed(call.path, connection.paths)
    try:
        texts, scanned, stopped = read_last_lines(
            fd, call.contains, call.lines, connection.max_scan_bytes
        )
    except OSError as exc:
        raise FetchError(f"cannot read {call.path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    facts: dict[str, Any] = {"count": len(texts), "scanned_bytes": scanned}
    if stopped:
        facts["note"] = (
            f"stopped after reading the last {scanned} bytes of {call.path} "
            f"(max_scan_bytes); {len(texts)} of {call.lines} lines found"
        )
    lines = [LogLine(at=None, text=text, origin=call.path) for text in texts]
    return Fetched(lines=lines, facts=facts)


class FileBackend:
    name: ClassVar[str] = "file"
    connection_model: ClassVar[type[ConnectionBase]] = FilesConnection
    args_model: ClassVar[type[LogArgs]] = FileArgs

    def plan(self, args: FileArgs, connection: FilesConnection, now: datetime) -> Call:
        # Pure: a lexical check so dry-runs refuse a path outside the globs; fetch
        # checks again on the real, symlink-resolved path.
        path = os.path.normpath(args.path)
        if not any(glob_matches(path, pattern) for pattern in connection.paths):
            raise ValueError(
                f"path {args.path} does not match the connection's paths "
                f"({', '.join(connection.paths)})"
            )
        return FileCall(path=path, contains=args.contains, lines=args.lines)

    def describe(self, call: Call, connection: FilesConnection) -> Mapping[str, Any]:
        assert isinstance(call, FileCall)
        return {"method": "read", "file": call.path, "contains": call.contains, "lines": call.lines}

    async def fetch(self, call: Call, connection: FilesConnection, outbound: Outbound) -> Fetched:
        assert isinstance(call, FileCall)
        return await asyncio.to_thread(_read, call, connection)
