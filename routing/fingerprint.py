"""Stable fingerprints: a hash of a source's identity fields, independent of their order."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping


def fingerprint_of(source: str, fields: Mapping[str, str]) -> str:
    """Hex digest over `source` and the sorted identity fields (order never matters)."""
    digest = hashlib.sha256(source.encode())
    for key in sorted(fields):
        # Length-prefixed so ("ab","c") and ("a","bc") can never collide.
        for part in (key, fields[key]):
            encoded = part.encode("utf-8", "surrogatepass")
            digest.update(len(encoded).to_bytes(4, "big"))
            digest.update(encoded)
    return digest.hexdigest()[:32]
