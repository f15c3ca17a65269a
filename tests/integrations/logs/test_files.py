"""logs.file: allowlisted globs on real paths, reading backwards, the last N matching lines."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from integrations.logs.base import FetchError, FileCall, LogLine
from integrations.logs.files import (
    FileArgs,
    FileBackend,
    FilesConnection,
    glob_matches,
    read_last_lines,
)

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
BACKEND = FileBackend()


def _connection(*paths: str, **extra: object) -> FilesConnection:
    return FilesConnection.model_validate({"type": "files", "paths": list(paths), **extra})


def _read(connection: FilesConnection, path: str, contains: str | None = None, lines: int = 200):
    args = FileArgs.model_validate(
        {"connection": "applogs", "path": path, "contains": contains, "lines": lines}
    )
    call = BACKEND.plan(args, connection, NOW)
    return asyncio.run(BACKEND.fetch(call, connection, None))  # type: ignore[arg-type]


def _texts(lines: list[LogLine]) -> list[str]:
    return [line.text for line in lines]


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    folder = tmp_path / "logs"
    folder.mkdir()
    body = "".join(f"{'ERROR' if n % 10 == 0 else 'INFO'} request {n}\n" for n in range(1, 1001))
    (folder / "app.log").write_text(body)
    return folder


def test_last_matching_lines_oldest_first(logs: Path) -> None:
    fetched = _read(_connection(f"{logs}/*.log"), f"{logs}/app.log", contains="ERROR", lines=3)
    assert _texts(fetched.lines) == ["ERROR request 980", "ERROR request 990", "ERROR request 1000"]
    assert {line.origin for line in fetched.lines} == {f"{logs}/app.log"}
    assert fetched.facts["count"] == 3
    assert "note" not in fetched.facts


def test_last_lines_without_filter_and_fewer_than_asked(logs: Path) -> None:
    connection = _connection(f"{logs}/*.log")
    assert _texts(_read(connection, f"{logs}/app.log", lines=2).lines) == [
        "INFO request 999",
        "ERROR request 1000",
    ]
    (logs / "short.log").write_bytes(b"first\r\n\n  \nsecond\nbad \xff byte\nno newline at end")
    fetched = _read(connection, f"{logs}/short.log", lines=50)
    assert _texts(fetched.lines) == ["first", "second", "bad \ufffd byte", "no newline at end"]


@pytest.mark.parametrize("block", [1, 2, 3, 7, 16, 4096])
def test_block_boundaries_do_not_change_lines(tmp_path: Path, block: int) -> None:
    path = tmp_path / "x.log"
    path.write_bytes(b"alpha\nbeta error\n\ngamma\r\ndelta error\nepsilon")
    fd = os.open(path, os.O_RDONLY)
    try:
        assert read_last_lines(fd, None, 10, 1 << 20, block=block) == (
            ["alpha", "beta error", "gamma", "delta error", "epsilon"],
            path.stat().st_size,
            False,
        )
        found, _, stopped = read_last_lines(fd, "error", 1, 1 << 20, block=block)
        assert (found, stopped) == (["delta error"], False)
    finally:
        os.close(fd)


def test_path_outside_the_globs_is_refused_at_plan_and_fetch(logs: Path, tmp_path: Path) -> None:
    connection = _connection(f"{logs}/*.log")
    (tmp_path / "secret.txt").write_text("password=hunter2\n")
    for path in (f"{tmp_path}/secret.txt", f"{logs}/../secret.txt", f"{logs}/sub/app.log"):
        with pytest.raises(ValueError, match="does not match the connection's paths"):
            _read(connection, path)
    # A call that skips plan (or a plan made before the config changed) is checked again.
    call = FileCall(path=f"{tmp_path}/secret.txt", contains=None, lines=10)
    with pytest.raises(FetchError, match="not allowed"):
        asyncio.run(BACKEND.fetch(call, connection, None))  # type: ignore[arg-type]


def test_symlink_out_of_the_glob_is_refused(logs: Path, tmp_path: Path) -> None:
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$secret\n")
    (logs / "evil.log").symlink_to(secret)
    with pytest.raises(FetchError, match=r"evil.log \(resolves to .*shadow\) is not allowed"):
        _read(_connection(f"{logs}/*.log"), f"{logs}/evil.log")


def test_symlink_within_the_globs_and_symlinked_glob_directory(logs: Path, tmp_path: Path) -> None:
    (logs / "current.log").symlink_to(logs / "app.log")
    fetched = _read(_connection(f"{logs}/*.log"), f"{logs}/current.log", lines=1)
    assert _texts(fetched.lines) == ["ERROR request 1000"]
    # The operator's glob names a directory that is itself a link (/var/log/api -> /data/api).
    (tmp_path / "api").symlink_to(logs, target_is_directory=True)
    fetched = _read(_connection(f"{tmp_path}/api/*.log"), f"{tmp_path}/api/app.log", lines=1)
    assert _texts(fetched.lines) == ["ERROR request 1000"]


def test_missing_file_and_non_regular_file(logs: Path) -> None:
    connection = _connection(f"{logs}/*")
    with pytest.raises(FetchError, match=r"app2\.log does not exist"):
        _read(connection, f"{logs}/app2.log")
    os.mkfifo(logs / "pipe")  # opening a FIFO for reading would block without O_NONBLOCK
    with pytest.raises(FetchError, match="is not a regular file"):
        _read(connection, f"{logs}/pipe")
    (logs / "dir").mkdir()
    with pytest.raises(FetchError, match="is not a regular file"):
        _read(connection, f"{logs}/dir")


def test_globs_match_segment_by_segment() -> None:
    assert glob_matches("/var/log/api/app.log", "/var/log/api/*.log")
    assert not glob_matches("/var/log/api/old/app.log", "/var/log/api/*.log")
    assert glob_matches("/var/log/api/old/app.log", "/var/log/**/*.log")
    assert glob_matches("/var/log/app.log", "/var/log/**/*.log")
    assert glob_matches("/var/log/api/app.1", "/var/log/api/app.[0-9]")
    assert not glob_matches("/var/log/api/app.log.gz", "/var/log/api/*.log")
    assert not glob_matches("/etc/passwd", "/var/log/**")


def test_connection_and_args_validation() -> None:
    with pytest.raises(ValidationError, match="absolute"):
        _connection("logs/*.log")
    with pytest.raises(ValidationError, match=r"\.\."):
        _connection("/var/log/../../etc/*")
    with pytest.raises(ValidationError):
        _connection()
    with pytest.raises(ValidationError, match="absolute"):
        FileArgs.model_validate({"connection": "c", "path": "app.log"})
    for lines in (0, 5001):
        with pytest.raises(ValidationError):
            FileArgs.model_validate({"connection": "c", "path": "/a.log", "lines": lines})


def test_describe_shows_the_read() -> None:
    connection = _connection("/var/log/api/*.log")
    args = FileArgs.model_validate(
        {"connection": "applogs", "path": "/var/log/api/app.log", "contains": "ERROR"}
    )
    call = BACKEND.plan(args, connection, NOW)
    assert BACKEND.describe(call, connection) == {
        "method": "read",
        "file": "/var/log/api/app.log",
        "contains": "ERROR",
        "lines": 200,
    }


def test_a_2_gib_file_costs_what_a_small_one_does(tmp_path: Path) -> None:
    big = tmp_path / "big.log"
    with big.open("wb") as handle:
        handle.truncate(2 * 1024**3)  # sparse: 2 GiB of NULs without a newline
        handle.seek(0, os.SEEK_END)
        handle.write(b"\n" + b"".join(b"ERROR line %d\n" % n for n in range(300)))
    connection = _connection(f"{tmp_path}/*.log")
    started = time.perf_counter()
    fetched = _read(connection, str(big), contains="ERROR", lines=200)
    elapsed = time.perf_counter() - started
    assert _texts(fetched.lines)[0] == "ERROR line 100"
    assert _texts(fetched.lines)[-1] == "ERROR line 299"
    assert fetched.facts["scanned_bytes"] <= 64 * 1024  # one block of the 2 GiB
    assert elapsed < 1.0


def test_one_long_line_is_read_in_linear_time(tmp_path: Path) -> None:
    long = tmp_path / "long.log"
    with long.open("wb") as handle:
        handle.write(b"before\n")
        handle.truncate(32 * 1024**2)  # sparse: one 32 MiB line of NULs, 512 blocks
        handle.seek(0, os.SEEK_END)
        handle.write(b"\nafter\n")
    fd = os.open(long, os.O_RDONLY)
    try:
        started = time.perf_counter()
        found, scanned, stopped = read_last_lines(fd, None, 3, 64 * 1024**2)
        elapsed = time.perf_counter() - started
    finally:
        os.close(fd)
    assert [found[0], len(found[1]), found[2]] == ["before", 32 * 1024**2 - 7, "after"]
    assert (scanned, stopped) == (long.stat().st_size, False)
    assert elapsed < 3.0  # about 0.2 s; re-joining the line at every block took about 10 s


def test_scan_budget_stops_and_says_so(tmp_path: Path) -> None:
    big = tmp_path / "big.log"
    with big.open("wb") as handle:
        handle.write(b"ERROR the only match\n")
        handle.truncate(2 * 1024**3)
        handle.seek(0, os.SEEK_END)
        handle.write(b"\ninfo\n" * 10)
    connection = _connection(f"{tmp_path}/*.log", max_scan_bytes=1024 * 1024)
    fetched = _read(connection, str(big), contains="ERROR", lines=5)
    assert fetched.lines == []
    assert fetched.facts["scanned_bytes"] == 1024 * 1024
    assert "stopped after reading the last 1048576 bytes" in fetched.facts["note"]
    assert "0 of 5 lines found" in fetched.facts["note"]
