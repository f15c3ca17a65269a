"""logs.journald against a real journalctl reading a journal file the test writes.

The journal is written from journal export format (tests.support.journal_export)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest
from pydantic import ValidationError

from integrations.logs.base import FetchError
from integrations.logs.journald import (
    JournaldArgs,
    JournaldBackend,
    JournaldConnection,
    message_text,
    run_journalctl,
)
from tests.support.journal_export import export_field, write_journal

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
BACKEND = JournaldBackend()
BOOT = "0123456789abcdef0123456789abcdef"

# (minutes before NOW, unit, priority, MESSAGE: str, bytes, or a list for a repeated field)
ENTRIES: list[tuple[int, str, int, str | bytes | list[str]]] = [
    (50, "api.service", 3, "old error"),
    (20, "api.service", 6, "started"),
    (10, "api.service", 3, "db timeout"),
    (8, "worker.service", 3, "worker error"),
    (5, "api.service", 4, "slow request"),
    (2, "api.service", 3, b"bad \xff\xfe bytes"),
    (1, "api.service", 2, ["first part", "second part"]),
]


def _export(entries: list[tuple[int, str, int, str | bytes | list[str]]]) -> bytes:
    out = bytearray()
    for minutes, unit, priority, message in entries:
        micros = int((NOW - timedelta(minutes=minutes)).timestamp() * 1_000_000)
        out += export_field("__REALTIME_TIMESTAMP", str(micros))
        out += export_field("__MONOTONIC_TIMESTAMP", str(micros))
        out += export_field("_BOOT_ID", BOOT)
        out += export_field("_SYSTEMD_UNIT", unit)
        out += export_field("SYSLOG_IDENTIFIER", unit.split(".")[0])
        out += export_field("PRIORITY", str(priority))
        for part in message if isinstance(message, list) else [message]:
            out += export_field("MESSAGE", part)
        out += b"\n"
    return bytes(out)


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("journal")
    return write_journal(folder / "test.journal", _export(ENTRIES))


def _fetch(connection: JournaldConnection, **args: object):
    parsed = JournaldArgs.model_validate({"connection": "journal", "unit": "api.service", **args})
    call = BACKEND.plan(parsed, connection, NOW)
    return asyncio.run(BACKEND.fetch(call, connection, None))  # type: ignore[arg-type]


def _file(journal: Path, **extra: object) -> JournaldConnection:
    return JournaldConnection.model_validate({"type": "journald", "file": str(journal), **extra})


def test_unit_and_since_filter_oldest_first(journal: Path) -> None:
    fetched = _fetch(_file(journal), since="30m")
    assert [line.text for line in fetched.lines] == [
        "[info] started",
        "[err] db timeout",
        "[warning] slow request",
        "[err] bad \ufffd\ufffd bytes",
        "[crit] first part | second part",
    ]
    assert {line.origin for line in fetched.lines} == {"api.service"}
    assert [line.at for line in fetched.lines] == [
        NOW - timedelta(minutes=m) for m in (20, 10, 5, 2, 1)
    ]
    assert fetched.facts == {"count": 5}


def test_priority_filter_and_line_count(journal: Path) -> None:
    texts = [line.text for line in _fetch(_file(journal), priority="err").lines]
    assert texts == [
        "[err] db timeout",
        "[err] bad \ufffd\ufffd bytes",
        "[crit] first part | second part",
    ]
    newest = _fetch(_file(journal), since="1h", priority="3", lines=2).lines
    assert [line.text for line in newest] == [
        "[err] bad \ufffd\ufffd bytes",
        "[crit] first part | second part",
    ]
    everything = _fetch(_file(journal), since="1h", priority="err", lines=10).lines
    assert everything[0].text == "[err] old error"


def test_other_unit_and_directory_connection(journal: Path) -> None:
    connection = JournaldConnection.model_validate(
        {"type": "journald", "directory": str(journal.parent)}
    )
    fetched = _fetch(connection, unit="worker.service")
    assert [(line.origin, line.text) for line in fetched.lines] == [
        ("worker.service", "[err] worker error")
    ]
    assert _fetch(connection, unit="nothing.service").lines == []


def test_output_cap_keeps_the_newest(journal: Path) -> None:
    fetched = _fetch(_file(journal, max_output_bytes=700), since="1h")
    assert 1 <= len(fetched.lines) < 6
    assert fetched.lines[-1].text == "[crit] first part | second part"
    assert "kept the newest" in fetched.facts["note"]


def test_journalctl_failure_names_the_first_stderr_line(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match=r"journalctl exited with status 1: .*No such file"):
        _fetch(
            JournaldConnection.model_validate(
                {"type": "journald", "directory": str(tmp_path / "none")}
            )
        )


def test_plan_is_an_argument_list() -> None:
    connection = JournaldConnection.model_validate(
        {"type": "journald", "directory": "/var/log/journal"}
    )
    args = JournaldArgs.model_validate(
        {
            "connection": "journal",
            "unit": "api.service",
            "since": "30m",
            "priority": "err",
            "lines": 200,
        }
    )
    call = BACKEND.plan(args, connection, NOW)
    since = int((NOW - timedelta(minutes=30)).timestamp())
    assert call.argv == (
        "journalctl", "--unit", "api.service", "--since", f"@{since}", "--priority", "err",
        "-o", "json", "--output-fields=MESSAGE,PRIORITY,_SYSTEMD_UNIT,SYSLOG_IDENTIFIER",
        "--all", "--reverse", "--no-pager", "-n", "200", "--directory", "/var/log/journal",
    )  # fmt: skip
    assert BACKEND.describe(call, connection) == {"method": "exec", "argv": list(call.argv)}


@pytest.mark.parametrize(
    "unit",
    [
        "api.service; rm -rf /",
        "--help",
        "-n",
        "api*",
        "api service",
        "a$(id)",
        "",
        "a" * 257,
        "api\n",
    ],
)
def test_unit_names_are_validated(unit: str) -> None:
    with pytest.raises(ValidationError, match="invalid unit name"):
        JournaldArgs.model_validate({"connection": "journal", "unit": unit})


def test_priorities() -> None:
    def priority(value: object) -> str | None:
        return JournaldArgs.model_validate(
            {"connection": "j", "unit": "a", "priority": value}
        ).priority

    assert [priority(v) for v in ("err", "3", 3, "WARNING", 7)] == [
        "err",
        "err",
        "err",
        "warning",
        "debug",
    ]
    for bad in ("error", "8", "-1", ""):
        with pytest.raises(ValidationError, match="invalid priority"):
            priority(bad)


def test_connection_validation() -> None:
    with pytest.raises(ValidationError, match="not both"):
        JournaldConnection.model_validate({"type": "journald", "directory": "/a", "file": "/b"})
    with pytest.raises(ValidationError, match="absolute"):
        JournaldConnection.model_validate({"type": "journald", "directory": "journal"})
    with pytest.raises(ValidationError):
        JournaldConnection.model_validate({"type": "journald", "journalctl": "/bin/sh"})
    with pytest.raises(ValidationError, match=r"timeout\n.*longer than 0s"):
        JournaldConnection.model_validate({"type": "journald", "timeout": "0s"})
    with pytest.raises(ValidationError, match=r"since\n.*longer than 0s"):
        JournaldArgs.model_validate({"connection": "j", "unit": "api.service", "since": "0s"})


def test_message_forms() -> None:
    assert message_text("plain") == "plain"
    assert message_text([104, 105, 255]) == "hi\ufffd"
    assert message_text(["a", [98]]) == "a | b"
    assert message_text(None) == "[message not shown by journalctl]"


def _children() -> set[int]:
    return {child.pid for child in psutil.Process().children(recursive=True)}


def test_timeout_and_cancel_leave_no_process() -> None:
    before = _children()
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"did not finish within 0\.3s"):
        asyncio.run(run_journalctl(("sleep", "30"), timeout=0.3, cap=1024))
    assert time.monotonic() - started < 5
    assert _children() == before

    async def cancelled() -> None:
        task = asyncio.ensure_future(run_journalctl(("sleep", "30"), timeout=60, cap=1024))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancelled())
    assert _children() == before


def test_missing_binary() -> None:
    with pytest.raises(FetchError, match="is not installed"):
        asyncio.run(run_journalctl(("no-such-journalctl-here",), timeout=1, cap=1024))
