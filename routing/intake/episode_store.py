"""The alert episodes an ingest batch works on: locked and loaded per fingerprint (or
taken from the EpisodeCache), changed in memory as alerts arrive, and written back
once at flush, however many repeats arrived."""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, Table, bindparam, update

from routing.intake.alert import Alert, AlertStatus
from routing.intake.bulk import bind, chunks, insert_ignore
from routing.intake.dedup import EpisodeState, EpisodeStatus
from routing.intake.episode_cache import Entry, EpisodeCache
from routing.intake.storm_sql import (
    STATE_COLUMNS,
    STEADY_COLUMNS,
    insert_rows,
    read_episodes,
    update_counters,
    update_states,
)
from routing.intake.submission import AlertOutcome
from routing.intake.threshold_window import decode, encode
from routing.storage.tables import AlertIdentity, AlertRow

ALERT: Table = AlertRow.metadata.tables["alert"]
IDENTITY: Table = AlertIdentity.metadata.tables["alert_identity"]


@dataclass(slots=True)
class Episode:
    """An alert row being worked on in memory during one batch. `state` and the latest
    alert are written into `values` once, at flush, however many repeats arrived."""

    values: dict[str, Any]
    is_new: bool
    state: EpisodeState
    latest: Alert | None = None
    outcomes: list[AlertOutcome] = field(default_factory=list)
    # The stored state apart from the counters: when unchanged, flush writes counters only.
    steady: tuple[Any, ...] = ()

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Episode:
        state = EpisodeState(
            status=_STATUS[row["status"]],
            first_seen=row["first_seen"],
            last_seen=row["last_seen"],
            occurrences=row["occurrences"],
            resolved_at=row["resolved_at"],
            flips=row["flips"],
            flip_window_start=row["flip_window_start"],
            flapping=row["flapping"],
            window=decode(row["window_stamps"]),
            flapping_until=row["flapping_until"],
        )
        return cls(row, is_new=False, state=state, steady=_steady(row))

    def write_state(self) -> None:
        state = self.state
        self.values.update(
            status=state.status.value,
            first_seen=state.first_seen,
            last_seen=state.last_seen,
            occurrences=state.occurrences,
            resolved_at=state.resolved_at,
            flips=state.flips,
            flip_window_start=state.flip_window_start,
            flapping=state.flapping,
            window_stamps=encode(state.window),
            flapping_until=state.flapping_until,
        )


class EpisodeStore:
    """The batch's fingerprints: their identity rows locked, their current episodes."""

    def __init__(self, conn: Connection, cache: EpisodeCache | None) -> None:
        self.conn = conn
        self.cache = cache
        self.episodes: dict[str, Episode] = {}
        self.episode_counts: dict[str, int] = {}
        self.loaded: set[str] = set()

    def get(self, fingerprint: str) -> Episode | None:
        return self.episodes.get(fingerprint)

    def preload(self, alerts: Sequence[Alert]) -> None:
        """Lock and load every fingerprint of the batch at once, in sorted order."""
        self._load_fingerprints(sorted({a.fingerprint for a in alerts} - self.loaded))

    def _load_fingerprints(self, fingerprints: list[str]) -> None:
        self.loaded.update(fingerprints)
        if self.cache is not None:
            fingerprints = self._from_cache(self.cache, fingerprints)
        if not fingerprints:
            return
        seen = self._lock_and_load(fingerprints)
        missing = [fp for fp in fingerprints if fp not in seen]
        if missing:
            # First sighting: create the identity rows (a racing replica may create them
            # first: DO NOTHING), then lock them like the others.
            insert_ignore(self.conn, IDENTITY, [{"fingerprint": fp} for fp in missing])
            self._lock_and_load(missing)

    def _from_cache(self, cache: EpisodeCache, fingerprints: list[str]) -> list[str]:
        """Take what the cache holds; returns the fingerprints still to read."""
        unknown = []
        for fingerprint in fingerprints:
            entry = cache.get(fingerprint)
            if entry is None:
                unknown.append(fingerprint)
                continue
            count, row, state = entry
            self.episode_counts[fingerprint] = count
            if row is not None and state is not None:
                self.episodes[fingerprint] = Episode(row, False, state, steady=_steady(row))
        return unknown

    def current_episodes(self) -> Iterator[tuple[str, Entry]]:
        """Every loaded fingerprint's episode count and current row, as flushed."""
        for fingerprint in self.loaded:
            count = self.episode_counts.get(fingerprint, 0)
            episode = self.episodes.get(fingerprint)
            if episode is None:
                yield fingerprint, (count, None, None)
            else:
                yield fingerprint, (count, episode.values, episode.state)

    def _lock_and_load(self, fingerprints: list[str]) -> set[str]:
        """Lock the identity rows (sorted) and read each one's current episode; returns
        the fingerprints that have an identity row."""
        seen: set[str] = set()
        for chunk in chunks(fingerprints):
            for fingerprint, episodes, current in read_episodes(self.conn, chunk):
                seen.add(fingerprint)
                self.episode_counts[fingerprint] = episodes
                if current is not None:
                    self.episodes[fingerprint] = Episode.from_row(current)
        return seen

    def new_episode(self, alert: Alert, group_key: str, state: EpisodeState) -> Episode:
        number = self.episode_counts.get(alert.fingerprint, 0) + 1
        self.episode_counts[alert.fingerprint] = number
        values: dict[str, Any] = {
            "fingerprint": alert.fingerprint,
            "episode": number,
            "source": alert.source,
            "incident_id": None,
            "fingerprint_fields": dict(alert.fingerprint_fields),
            "group_key": group_key,
            "group_reason": "",
        }
        episode = Episode(values, is_new=True, state=state)
        self.episodes[alert.fingerprint] = episode
        return episode

    def flush(self) -> None:
        """Write the touched episodes back (one statement per kind of change) and give
        their outcomes the alert ids."""
        conn = self.conn
        touched = [e for e in self.episodes.values() if e.latest is not None or e.is_new]
        full_updates: list[dict[str, Any]] = []
        state_updates: list[dict[str, Any]] = []
        counter_updates: list[dict[str, Any]] = []
        new_rows: list[Episode] = []
        for episode in touched:
            episode.write_state()
            content_changed = episode.latest is not None and _refresh_content(
                episode.values, episode.latest
            )
            if episode.is_new:
                new_rows.append(episode)
            elif content_changed:
                full_updates.append(bind(episode.values, _ALERT_MUTABLE))
            elif episode.steady == _steady(episode.values):
                counter_updates.append(episode.values)
            else:
                state_updates.append(episode.values)
        # One insert pass per column set (new episodes all have the same columns).
        by_columns: dict[tuple[str, ...], list[tuple[Episode, dict[str, Any]]]] = {}
        for episode in new_rows:
            row = _without_id(episode.values)
            by_columns.setdefault(tuple(row), []).append((episode, row))
        for pairs in by_columns.values():
            ids = insert_rows(conn, ALERT, [row for _, row in pairs])
            for (episode, _), alert_id in zip(pairs, ids, strict=True):
                episode.values["id"] = alert_id
        for episode in touched:
            for outcome in episode.outcomes:
                outcome.alert_id = episode.values["id"]
        for chunk in chunks(full_updates):
            conn.execute(_UPDATE_ALERT, chunk)
        update_states(conn, state_updates)
        update_counters(conn, counter_updates)
        identity = [
            {"b_fp": v["fingerprint"], "b_id": v["id"], "b_episodes": v["episode"]}
            for v in (e.values for e in touched if e.is_new)
        ]
        for chunk in chunks(identity):
            conn.execute(_UPDATE_IDENTITY, chunk)


_CONTENT_COLUMNS = [
    "source", "severity", "service", "title", "description", "labels", "annotations",
    "source_url", "starts_at", "ends_at",
]  # fmt: skip
# When the report's content changed too (new labels, annotations or texts).
_ALERT_MUTABLE = [*STATE_COLUMNS, *_CONTENT_COLUMNS, "content_hash"]

_UPDATE_ALERT = (
    update(ALERT)
    .where(ALERT.c.id == bindparam("b_id"))
    .values({name: bindparam("b_" + name) for name in _ALERT_MUTABLE})
)
_UPDATE_IDENTITY = (
    update(IDENTITY)
    .where(IDENTITY.c.fingerprint == bindparam("b_fp"))
    .values(current_alert_id=bindparam("b_id"), episodes=bindparam("b_episodes"))
)


# The stored state apart from the counters, as one comparable tuple (itemgetter: C speed,
# this runs twice per alert of a storm).
_steady: Callable[[dict[str, Any]], tuple[Any, ...]] = operator.itemgetter(*STEADY_COLUMNS)
_STATUS = {status.value: status for status in EpisodeStatus}  # faster than EpisodeStatus(v)


def _without_id(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k != "id"}


def _refresh_content(values: dict[str, Any], alert: Alert) -> bool:
    """Labels, annotations and texts follow the latest report (as Alertmanager does).
    Returns whether anything changed, so unchanged repeats skip rewriting them."""
    labels = alert.labels if isinstance(alert.labels, dict) else dict(alert.labels)
    annotations = (
        alert.annotations if isinstance(alert.annotations, dict) else dict(alert.annotations)
    )
    ends_at = alert.ends_at if alert.status is AlertStatus.RESOLVED else None
    content = [
        alert.source,
        alert.severity.value,
        alert.service,
        alert.title,  # stored in full, like labels (routing.basics.storable)
        alert.description,
        labels,
        annotations,
        alert.source_url,
        alert.starts_at,
        ends_at,
    ]
    digest = hashlib.blake2b(
        orjson.dumps(content, option=orjson.OPT_SORT_KEYS), digest_size=16
    ).hexdigest()
    if values.get("content_hash") == digest:
        return False
    values.update(zip(_CONTENT_COLUMNS, content, strict=True))
    values["content_hash"] = digest
    return True
