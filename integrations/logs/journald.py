"""logs.journald: a unit's recent journal entries through `journalctl`.

The program is the `journalctl` found on PATH, run with an argument list (never a
shell); the unit name is validated to systemd's unit-name characters (no glob
characters, so `--unit` cannot match more than the one unit, and no leading "-").
The connection may point at a journal directory or one journal file instead of the
system journal.

Beyond the issue's `--unit U --since @T --priority P -o json --no-pager -n N` the call
asks for `--output-fields` (only what a line shows), `--all` (a long message, such as a
stack trace, is printed rather than null) and `--reverse` (newest first), so output past
`max_output_bytes` loses the oldest entries, not the newest.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from integrations.connections import ConnectionBase
from integrations.logs.base import Call, ExecCall, Fetched, FetchError, LogArgs, LogLine
from routing.basics.field import PositiveDuration

if TYPE_CHECKING:
    from integrations.outbound import Outbound

PRIORITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
OUTPUT_FIELDS = "MESSAGE,PRIORITY,_SYSTEMD_UNIT,SYSLOG_IDENTIFIER"
_UNIT_NAME = re.compile(r"[A-Za-z0-9:_.\\@-]{1,256}")
_STDERR_KEPT = 64 * 1024
_CHUNK = 64 * 1024


class JournaldConnection(ConnectionBase):
    """The system journal, or `directory:` (a folder of *.journal files) or `file:` (one
    journal file; journalctl reads it as a glob, so it is an operator's setting only)."""

    type: Literal["journald"]
    directory: str | None = None
    file: str | None = None
    timeout: PositiveDuration = timedelta(seconds=10)
    max_output_bytes: int = Field(default=16 * 1024 * 1024, gt=0)

    @field_validator("directory", "file")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        if value is not None and (not value.startswith("/") or "\0" in value):
            raise ValueError(f'"{value}" must be an absolute path')
        return value

    @model_validator(mode="after")
    def _one_source(self) -> JournaldConnection:
        if self.directory is not None and self.file is not None:
            raise ValueError("give directory or file, not both")
        return self


def _unit(value: str) -> str:
    if value.startswith("-") or not _UNIT_NAME.fullmatch(value):
        raise ValueError(
            f"invalid unit name {value!r}: up to 256 of A-Z a-z 0-9 : _ . \\ @ -, "
            'not starting with "-" (like api.service)'
        )
    return value


def _priority(value: str) -> str:
    text = value.strip().lower()
    if text.isdigit() and int(text) < len(PRIORITIES):
        return PRIORITIES[int(text)]
    if text in PRIORITIES:
        return text
    raise ValueError(f"invalid priority {value!r}: one of {', '.join(PRIORITIES)} or 0-7")


class JournaldArgs(LogArgs):
    unit: str
    since: PositiveDuration = timedelta(minutes=30)
    priority: str | None = None  # this level and more severe; None: every entry
    lines: int = Field(default=200, ge=1, le=5000)

    @field_validator("unit")
    @classmethod
    def _check_unit(cls, value: str) -> str:
        return _unit(value)

    @field_validator("priority")
    @classmethod
    def _check_priority(cls, value: str | None) -> str | None:
        return None if value is None else _priority(value)


def message_text(value: Any) -> str:
    """MESSAGE as journalctl's JSON gives it: a string, an array of byte values when it
    is not UTF-8, an array of those when the field repeats, null when not shown."""
    if value is None:
        return "[message not shown by journalctl]"
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        if all(isinstance(item, int) for item in value):
            return bytes(item & 0xFF for item in value).decode("utf-8", errors="replace")
        return " | ".join(message_text(item) for item in value)
    return str(value)


def entry_line(entry: Mapping[str, Any]) -> LogLine:
    """One journal entry as a log line: time, origin (unit or identifier), "[err] text"."""
    at: datetime | None = None
    stamp = entry.get("__REALTIME_TIMESTAMP")
    # ASCII digits only ("²" is a digit int() refuses), and within datetime's years
    if isinstance(stamp, str) and re.fullmatch(r"[0-9]{1,17}", stamp):
        at = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(stamp))
    priority = entry.get("PRIORITY")
    level = None
    if isinstance(priority, str) and priority in {str(n) for n in range(8)}:  # not a list
        level = PRIORITIES[int(priority)]
    origin = entry.get("_SYSTEMD_UNIT") or entry.get("SYSLOG_IDENTIFIER") or ""
    text = message_text(entry.get("MESSAGE"))
    return LogLine(
        at=at,
        text=f"[{level}] {text}" if level else text,
        origin=origin if isinstance(origin, str) else message_text(origin),
    )


def parse_output(stdout: bytes) -> list[LogLine]:
    """journalctl -o json --reverse: one object per line, newest first; returned oldest
    first. A cut final line (the output cap) is dropped."""
    lines: list[LogLine] = []
    for number, raw in enumerate(stdout.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            entry = json.loads(raw)
        except (ValueError, RecursionError):  # nested past the decoder's depth
            raise FetchError(
                f"journalctl printed a line that is not JSON (line {number})"
            ) from None
        if not isinstance(entry, dict):
            raise FetchError(f"journalctl printed a line that is not an object (line {number})")
        lines.append(entry_line(entry))
    lines.reverse()
    return lines


async def _read_capped(stream: asyncio.StreamReader, cap: int) -> tuple[bytes, bool]:
    """Up to `cap` bytes of a stream; True if there was more."""
    data = bytearray()
    while chunk := await stream.read(_CHUNK):
        room = cap - len(data)
        if len(chunk) > room:
            data += chunk[:room]
            return bytes(data), True
        data += chunk
    return bytes(data), False


async def _drain(stream: asyncio.StreamReader, keep: int) -> bytes:
    """Read a stream to its end (so the child never blocks on it), keeping its start."""
    kept = bytearray()
    while chunk := await stream.read(_CHUNK):
        kept += chunk[: max(0, keep - len(kept))]
    return bytes(kept)


async def run_journalctl(argv: tuple[str, ...], timeout: float, cap: int) -> tuple[bytes, bool]:
    """Run journalctl (found on PATH) with this argument list: its stdout, capped, and
    whether it was cut. A non-zero exit, a missing binary or the timeout: FetchError."""
    binary = shutil.which(argv[0])
    if binary is None:
        raise FetchError(f"{argv[0]} is not installed on this host")
    proc = await asyncio.create_subprocess_exec(
        binary,
        *argv[1:],
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    try:
        async with asyncio.timeout(timeout):
            stderr_task = asyncio.ensure_future(_drain(proc.stderr, _STDERR_KEPT))
            try:
                stdout, cut = await _read_capped(proc.stdout, cap)
                if cut:
                    proc.kill()
                stderr = await stderr_task
            finally:
                stderr_task.cancel()
            returncode = await proc.wait()
    except TimeoutError:
        raise FetchError(f"journalctl did not finish within {timeout:g}s") from None
    finally:
        # Cancelled or timed out: never leave the child running.
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    if returncode != 0 and not cut:
        first = stderr.decode("utf-8", errors="replace").strip().splitlines()
        reason = first[0] if first else "no message"
        raise FetchError(f"journalctl exited with status {returncode}: {reason}")
    return stdout, cut


class JournaldBackend:
    name: ClassVar[str] = "journald"
    connection_model: ClassVar[type[ConnectionBase]] = JournaldConnection
    args_model: ClassVar[type[LogArgs]] = JournaldArgs

    def plan(self, args: JournaldArgs, connection: JournaldConnection, now: datetime) -> Call:
        since = int((now - args.since).timestamp())
        argv = [
            "journalctl",
            "--unit",
            args.unit,
            "--since",
            f"@{since}",
            *(("--priority", args.priority) if args.priority is not None else ()),
            "-o",
            "json",
            f"--output-fields={OUTPUT_FIELDS}",
            "--all",
            "--reverse",
            "--no-pager",
            "-n",
            str(args.lines),
        ]
        if connection.directory is not None:
            argv += ["--directory", connection.directory]
        if connection.file is not None:
            argv += ["--file", connection.file]
        return ExecCall(argv=tuple(argv))

    def describe(self, call: Call, connection: JournaldConnection) -> Mapping[str, Any]:
        assert isinstance(call, ExecCall)
        return {"method": "exec", "argv": list(call.argv)}

    async def fetch(
        self, call: Call, connection: JournaldConnection, outbound: Outbound
    ) -> Fetched:
        assert isinstance(call, ExecCall)
        cap = connection.max_output_bytes
        stdout, cut = await run_journalctl(call.argv, connection.timeout.total_seconds(), cap)
        if cut:
            stdout = stdout[: stdout.rfind(b"\n") + 1]
        lines = parse_output(stdout)
        facts: dict[str, Any] = {"count": len(lines)}
        if cut:
            facts["note"] = (
                f"journalctl printed more than {cap} bytes (max_output_bytes): "
                f"kept the newest {len(lines)} entries"
            )
        return Fetched(lines=lines, facts=facts)
