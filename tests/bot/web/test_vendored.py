"""The vendored JavaScript is exactly what VENDORED.txt records (package, version, sha256)."""

from __future__ import annotations

import hashlib
from importlib import resources

VENDOR = resources.files("bot.web") / "static" / "vendor"


def records() -> dict[str, list[str]]:
    lines = (VENDOR / "VENDORED.txt").read_text().splitlines()
    rows = [line.split("\t") for line in lines if line.strip() and not line.startswith("#")]
    return {row[0]: row for row in rows}


def test_every_vendored_file_matches_its_recorded_hash() -> None:
    found = records()
    assert "htmx.min.js" in found
    for name, (_file, package, version, _source, sha256, licence) in found.items():
        assert package and version and licence, name
        actual = hashlib.sha256((VENDOR / name).read_bytes()).hexdigest()
        assert actual == sha256, f"{name} changed: sha256 {actual}, VENDORED.txt says {sha256}"


def test_no_unrecorded_file_is_served() -> None:
    present = {item.name for item in VENDOR.iterdir()}
    licences = {name for name in present if name.endswith(".LICENSE.txt")}
    assert present - licences - {"VENDORED.txt"} == set(records())
