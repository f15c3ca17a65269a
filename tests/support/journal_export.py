"""Journal files for tests: entries in journal export format, turned into a journal file
by systemd-journal-remote (Debian package systemd-journal-remote; `make system-packages`
installs it with journalctl), so a real journalctl reads them."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest


def journal_remote() -> str:
    """The systemd-journal-remote program (often outside PATH, in lib/systemd)."""
    for candidate in (
        shutil.which("systemd-journal-remote"),
        "/lib/systemd/systemd-journal-remote",
        "/usr/lib/systemd/systemd-journal-remote",
    ):
        if candidate and Path(candidate).exists():
            return candidate
    pytest.fail("systemd-journal-remote is missing: run `make system-packages`")


def export_field(name: str, value: str | bytes) -> bytes:
    """One field of an entry in journal export format (an entry ends with a blank line)."""
    data = value if isinstance(value, bytes) else value.encode()
    if b"\n" in data or not data.isascii() or isinstance(value, bytes):
        # Binary-safe form: name, newline, little-endian 64-bit size, data, newline.
        return name.encode() + b"\n" + struct.pack("<Q", len(data)) + data + b"\n"
    return name.encode() + b"=" + data + b"\n"


def write_journal(target: Path, export: bytes) -> Path:
    """A journal file at `target` (ending in .journal) holding the exported entries."""
    subprocess.run(
        [journal_remote(), f"--output={target}", "-"],
        input=export,
        check=True,
        capture_output=True,
        timeout=30,
    )
    return target
