"""The intake writer's memory of the episodes it last committed, so a storm of repeats
does not read back rows it has just written.

SQLite only, and only for the one connection that writes batches: it is trusted while
`PRAGMA data_version` on that connection is unchanged, which SQLite guarantees to mean
that no other connection (the API, the paging worker, the CLI, another server process)
committed anything since. Any other commit, a failed batch or a new connection forgets
everything. PostgreSQL replicas write concurrently, so there every batch reads.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection

from routing.intake.dedup import EpisodeState

# (episodes of the fingerprint so far, its current episode's row and dedup state, if any)
Entry = tuple[int, dict[str, Any] | None, EpisodeState | None]


class EpisodeCache:
    def __init__(self, capacity: int = 20_000) -> None:
        # Bounded by distinct fingerprints, never by repeats.
        self.capacity = capacity
        self._entries: dict[str, Entry] = {}
        # (DBAPI connection, its data_version): versions of two connections don't compare.
        self._trusted: tuple[object, int] | None = None
        self._pending: tuple[object, int] | None = None
        self._staged: list[tuple[str, Entry]] = []

    def __len__(self) -> int:
        return len(self._entries)

    def begin(self, conn: Connection) -> None:
        """At the start of a batch's transaction (SQLite holds the write lock): forget
        everything if anyone else committed since this cache last did."""
        raw = conn.connection.dbapi_connection
        assert raw is not None
        # On the driver: through SQLAlchemy this one pragma cost 8% of a B=1 storm.
        version = int(raw.execute("PRAGMA data_version").fetchone()[0])
        trusted = self._trusted
        if trusted is None or trusted[0] is not raw or trusted[1] != version:
            self._entries.clear()
        self._pending = (raw, version)
        self._staged = []

    def get(self, fingerprint: str) -> Entry | None:
        return self._entries.get(fingerprint)

    def stage(self, entries: Iterable[tuple[str, Entry]]) -> None:
        """What the batch leaves behind, remembered only once it commits."""
        self._staged.extend(entries)

    def committed(self) -> None:
        entries = self._entries
        entries.update(self._staged)
        while len(entries) > self.capacity:  # the longest-known fingerprints go first
            del entries[next(iter(entries))]
        self._staged = []
        self._trusted = self._pending

    def forget(self) -> None:
        """A batch failed (its rows were rolled back, the dicts it changed are wrong)."""
        self._entries.clear()
        self._staged = []
        self._trusted = self._pending = None
