"""The dedup-and-group shell: applies parsed alerts to the database in the caller's
transaction (raw inbox rows, alert episodes, incidents, timeline) and reports what
happened, so routing can act on new incidents in that same transaction.

Concurrency: fingerprints are serialized by locking their `alert_identity` rows and
incident changes by locking `group_lock` rows (PostgreSQL FOR UPDATE, always in
sorted order, fingerprints before groups, so two replicas never deadlock; on SQLite
the whole transaction holds the database write lock from BEGIN IMMEDIATE).
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import Connection, Table, and_, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from routing.intake.alert import Alert, AlertStatus, Severity
from routing.intake.dedup import DecisionKind, DedupPolicy, EpisodeState, EpisodeStatus, decide
from routing.intake.episode_cache import Entry, EpisodeCache
from routing.intake.grouping import GroupKey, OpenIncidents
from routing.intake.storm_sql import (
    STATE_COLUMNS,
    STEADY_COLUMNS,
    insert_inbox,
    insert_rows,
    open_incident_groups,
    read_episodes,
    update_counters,
    update_states,
)
from routing.storage.tables import (
    AlertIdentity,
    AlertRow,
    GroupLock,
    InboxEntry,
    IncidentRow,
    TimelineEntry,
)

ALERT: Table = AlertRow.metadata.tables["alert"]
IDENTITY: Table = AlertIdentity.metadata.tables["alert_identity"]
INCIDENT: Table = IncidentRow.metadata.tables["incident"]
INBOX: Table = InboxEntry.metadata.tables["inbox"]
TIMELINE: Table = TimelineEntry.metadata.tables["timeline"]
GROUP_LOCK: Table = GroupLock.metadata.tables["group_lock"]

_CHUNK = 500  # keep IN lists and executemany batches well under driver limits


@dataclass(frozen=True, slots=True)
class Submission:
    """One accepted request (or an internal event when `body` is None)."""

    source: str
    alerts: Sequence[Alert]
    body: bytes | None = None
    content_type: str = ""
    request_id: str = ""
    note: str | None = None
    unparsed: int = 0


@dataclass(frozen=True, slots=True)
class IngestPolicy:
    group_by: tuple[str, ...] = ("service", "alertname")
    correlate_by: str = "service"
    default: DedupPolicy = field(default_factory=DedupPolicy)
    per_source: dict[str, DedupPolicy] = field(default_factory=dict)

    def for_source(self, source: str) -> DedupPolicy:
        return self.per_source.get(source, self.default)


class IncidentEventKind(StrEnum):
    OPENED = "opened"
    ALERT_ADDED = "alert_added"
    REOPENED = "reopened"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class IncidentEvent:
    kind: IncidentEventKind
    incident_id: int
    fingerprint: str


@dataclass(slots=True)
class AlertOutcome:
    fingerprint: str
    kind: DecisionKind
    incident_id: int | None = None
    alert_id: int | None = None
    group_key: str = ""


@dataclass(slots=True)
class SubmissionOutcome:
    inbox_id: int | None
    alerts: list[AlertOutcome]

    def count(self, kind: DecisionKind) -> int:
        return sum(1 for a in self.alerts if a.kind is kind)


@dataclass(slots=True)
class BatchOutcome:
    submissions: list[SubmissionOutcome]
    incident_events: list[IncidentEvent]


@dataclass(slots=True)
class _Episode:
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
    def from_row(cls, row: dict[str, Any]) -> _Episode:
        state = EpisodeState(
            status=_STATUS[row["status"]],
            first_seen=row["first_seen"],
            last_seen=row["last_seen"],
            occurrences=row["occurrences"],
            resolved_at=row["resolved_at"],
            flips=row["flips"],
            flip_window_start=row["flip_window_start"],
            flapping=row["flapping"],
            window_start=row["window_start"],
            window_count=row["window_count"],
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
            window_start=state.window_start,
            window_count=state.window_count,
        )


@dataclass(slots=True)
class _Incident:
    values: dict[str, Any]
    dirty: bool = False


@dataclass(frozen=True, slots=True)
class _Event:
    """A decision that changes incidents, replayed in arrival order in phase two."""

    kind: DecisionKind
    episode: _Episode
    alert: Alert
    flapping_now: bool
    key: GroupKey  # the alert's group, computed once in phase one


def ingest(
    conn: Connection,
    submissions: Sequence[Submission],
    now: datetime,
    policy: IngestPolicy,
    cache: EpisodeCache | None = None,
) -> BatchOutcome:
    """Store the submissions and all their effects in the caller's transaction. With
    `cache` (begun on this transaction), episodes it holds are not read back, and what
    the batch leaves is staged into it for the caller to keep once committed."""
    inbox_ids = _insert_inbox(conn, submissions, now)
    work = _Batch(conn, now, policy, cache)
    work.preload([alert for sub in submissions for alert in sub.alerts])
    outcomes = [
        SubmissionOutcome(inbox_id, [work.decide(alert) for alert in sub.alerts])
        for inbox_id, sub in zip(inbox_ids, submissions, strict=True)
    ]
    work.apply_incident_effects()
    work.flush()
    if cache is not None:
        cache.stage(work.current_episodes())
    return BatchOutcome(outcomes, work.incident_events)


def _insert_inbox(
    conn: Connection, submissions: Sequence[Submission], now: datetime
) -> list[int | None]:
    rows = [
        (
            sub.source,
            now,
            sub.request_id[:64],
            sub.content_type[:128],
            sub.body,
            len(sub.alerts),
            sub.unparsed,
            sub.note,
        )
        for sub in submissions
        if sub.body is not None
    ]
    stored = iter(insert_inbox(conn, rows) if rows else [])
    return [next(stored) if sub.body is not None else None for sub in submissions]


def _insert_ignore(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    for chunk in _chunks(rows):
        conn.execute(dialect.insert(table).on_conflict_do_nothing(), chunk)


def _chunks(items: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


class _Batch:
    """Phase one decides per alert in memory; phase two replays incident effects in order;
    flush writes everything back with executemany."""

    def __init__(
        self, conn: Connection, now: datetime, policy: IngestPolicy, cache: EpisodeCache | None
    ) -> None:
        self.conn = conn
        self.now = now
        self.policy = policy
        self.cache = cache
        self.episodes: dict[str, _Episode] = {}
        self.episode_counts: dict[str, int] = {}
        self.loaded: set[str] = set()
        self.events: list[_Event] = []
        self.incidents: dict[int, _Incident] = {}  # locked and loaded
        self.open = OpenIncidents()  # every open incident of the batch's services
        self.new_incident_ids: set[int] = set()
        self.timeline: list[dict[str, Any]] = []
        self.incident_events: list[IncidentEvent] = []
        self.identity_updates: dict[str, dict[str, Any]] = {}

    # -- phase one: dedup decisions -------------------------------------------------
    def decide(self, alert: Alert) -> AlertOutcome:
        current = self.episodes.get(alert.fingerprint)
        decision = decide(
            alert,
            current.state if current else None,
            self.now,
            self.policy.for_source(alert.source),
        )
        kind = decision.kind
        if kind is DecisionKind.REPEAT and current is not None and decision.state is not None:
            # The storm path: no group key, no event, one write at flush.
            current.state = decision.state
            current.latest = alert
            values = current.values
            outcome = AlertOutcome(
                alert.fingerprint, kind, values["incident_id"], None, values["group_key"]
            )
            current.outcomes.append(outcome)
            return outcome
        key = GroupKey.of(alert.labels, self.policy.group_by)
        group_key = key.text()
        outcome = AlertOutcome(alert.fingerprint, kind, group_key=group_key)
        if decision.state is None or kind is DecisionKind.STALE:
            if current:
                current.outcomes.append(outcome)
                outcome.incident_id = current.values["incident_id"]
            return outcome
        if decision.new_episode:
            current = self._new_episode(alert, group_key, decision.state)
        assert current is not None
        current.state = decision.state
        current.latest = alert
        outcome.incident_id = current.values["incident_id"]
        current.outcomes.append(outcome)
        if kind in (DecisionKind.NEW, DecisionKind.REOPEN, DecisionKind.RESOLVE):
            self.events.append(_Event(kind, current, alert, decision.became_flapping, key))
        return outcome

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
            _insert_ignore(self.conn, IDENTITY, [{"fingerprint": fp} for fp in missing])
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
                self.episodes[fingerprint] = _Episode(row, False, state, steady=_steady(row))
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
        for chunk in _chunks(fingerprints):
            for fingerprint, episodes, current in read_episodes(self.conn, chunk):
                seen.add(fingerprint)
                self.episode_counts[fingerprint] = episodes
                if current is not None:
                    self.episodes[fingerprint] = _Episode.from_row(current)
        return seen

    def _new_episode(self, alert: Alert, group_key: str, state: EpisodeState) -> _Episode:
        number = self.episode_counts.get(alert.fingerprint, 0) + 1
        self.episode_counts[alert.fingerprint] = number
        values: dict[str, Any] = {
            "fingerprint": alert.fingerprint,
            "episode": number,
            "source": alert.source,
            "incident_id": None,
            "fingerprint_fields": dict(alert.fingerprint_fields),
            "group_key": group_key,
        }
        episode = _Episode(values, is_new=True, state=state)
        self.episodes[alert.fingerprint] = episode
        self.identity_updates[alert.fingerprint] = {"episodes": number}
        return episode

    # -- phase two: incident effects, in arrival order -------------------------------
    def apply_incident_effects(self) -> None:
        if not self.events:
            return
        self._lock_groups()
        self._load_open_incidents()
        for event in self.events:
            if event.kind is DecisionKind.NEW:
                self._attach(event)
            elif event.kind is DecisionKind.REOPEN:
                self._reopen(event)
            else:
                self._resolve(event)
            if event.flapping_now and event.episode.values["incident_id"] is not None:
                self._note(
                    event.episode.values["incident_id"],
                    "flapping",
                    f"{event.alert.title} is flapping (resolved and fired again "
                    f"{event.episode.values['flips']} times within the reopen window)",
                    {"fingerprint": event.alert.fingerprint},
                )

    def _lock_groups(self) -> None:
        correlate = self.policy.correlate_by
        names = sorted({e.key.lock_name(correlate) for e in self.events})
        _insert_ignore(self.conn, GROUP_LOCK, [{"name": n} for n in names])
        for chunk in _chunks(names):
            self.conn.execute(
                select(GROUP_LOCK.c.name)
                .where(GROUP_LOCK.c.name.in_(chunk))
                .order_by(GROUP_LOCK.c.name)
                .with_for_update()
            ).all()

    def _load_open_incidents(self) -> None:
        """Lock and load the incidents the batch's episodes belong to, and index the open
        incidents of the batch's services that its alerts could join (id and group)."""
        self._lock_incidents(
            e.episode.values["incident_id"]
            for e in self.events
            if e.episode.values.get("incident_id") is not None
        )
        keys = {e.key for e in self.events}
        names = {key.names_text() for key in keys}
        # A reopening incident's own group too: a newer incident may hold it now.
        texts = {key.text() for key in keys} | {
            i.values["group_key"] for i in self.incidents.values()
        }
        self.open = OpenIncidents(
            (incident_id, _key_from_labels(labels))
            for incident_id, labels in open_incident_groups(
                self.conn,
                sorted({e.alert.service for e in self.events}),
                names.pop() if len(names) == 1 else None,
                sorted(texts),
            )
        )
        # The incidents new alerts would join, locked in one statement rather than one
        # each as they join (a storm of distinct alerts joins hundreds per batch).
        self._lock_incidents(
            incident_id
            for e in self.events
            if e.kind is DecisionKind.NEW and (incident_id := self.open.choose(e.key)) is not None
        )

    def _lock_incidents(self, ids: Iterable[int]) -> None:
        missing = sorted(set(ids) - self.incidents.keys())
        for chunk in _chunks(missing):
            # NO KEY UPDATE on PostgreSQL: rows inserted with a foreign key to the incident
            # (pages, timeline) by the paging worker need not wait for this transaction.
            query = select(INCIDENT).where(INCIDENT.c.id.in_(chunk))
            for row in self.conn.execute(query.with_for_update(key_share=True)).mappings():
                self.incidents[row["id"]] = _Incident(dict(row))

    def _chosen_incident(self, key: GroupKey) -> int | None:
        """The open incident an alert with `key` joins, locked and loaded."""
        while (incident_id := self.open.choose(key)) is not None:
            self._lock_incidents([incident_id])
            inc = self.incidents.get(incident_id)
            if inc is not None and inc.values["status"] != "resolved":
                return incident_id
            self.open.remove(incident_id)  # resolved (by a person) since it was indexed
        return None

    def _attach(self, event: _Event, *, reason: str = "joined") -> None:
        alert, key = event.alert, event.key
        incident_id = self._chosen_incident(key)
        if incident_id is None:
            incident_id = self._create_incident(alert, key)
            kind = IncidentEventKind.OPENED
        else:
            kind = IncidentEventKind.ALERT_ADDED
            self._note(
                incident_id,
                "alert_" + reason,
                f"{alert.title} {reason} (group {key.text()})",
                {"fingerprint": alert.fingerprint, "group_key": key.text()},
            )
        inc = self.incidents[incident_id]
        inc.values["alert_count"] += 1
        inc.values["open_alert_count"] += 1
        self._raise_severity(inc, alert.severity)
        inc.dirty = True
        event.episode.values["incident_id"] = incident_id
        event.episode.values["group_key"] = key.text()
        for outcome in event.episode.outcomes:
            outcome.incident_id = incident_id
        self.incident_events.append(IncidentEvent(kind, incident_id, alert.fingerprint))

    def _reopen(self, event: _Event) -> None:
        incident_id = event.episode.values["incident_id"]
        inc = self.incidents.get(incident_id) if incident_id is not None else None
        if inc is None:
            self._attach(event)
            return
        if inc.values["status"] == "resolved":
            key = _key_from_labels(inc.values["group_labels"])
            if self.open.exact(key) is not None:
                # A newer incident holds this group now; the flapping alert joins it.
                inc.values["alert_count"] -= 1
                inc.dirty = True
                self._attach(event, reason="reopened into this incident")
                return
            inc.values.update(status="triggered", resolved_at=None, resolved_by=None)
            self.open.add(incident_id, key)
            inc.values["acknowledged_at"] = None
            inc.values["acknowledged_by"] = None
            self._note(
                incident_id,
                "reopened",
                f"reopened: {event.alert.title} fired again within the reopen window",
                {"fingerprint": event.alert.fingerprint},
            )
            self.incident_events.append(
                IncidentEvent(IncidentEventKind.REOPENED, incident_id, event.alert.fingerprint)
            )
        inc.values["open_alert_count"] += 1
        self._raise_severity(inc, event.alert.severity)
        inc.dirty = True
        for outcome in event.episode.outcomes:
            outcome.incident_id = incident_id

    def _resolve(self, event: _Event) -> None:
        incident_id = event.episode.values["incident_id"]
        inc = self.incidents.get(incident_id) if incident_id is not None else None
        if inc is None:
            return
        inc.values["open_alert_count"] = max(0, inc.values["open_alert_count"] - 1)
        inc.dirty = True
        self._note(
            incident_id,
            "alert_resolved",
            f"{event.alert.title} resolved by {event.alert.source}",
            {"fingerprint": event.alert.fingerprint},
        )
        if inc.values["open_alert_count"] == 0 and inc.values["status"] != "resolved":
            inc.values.update(status="resolved", resolved_at=self.now, resolved_by="firebell")
            self.open.remove(incident_id)
            self._note(incident_id, "resolved", "all alerts resolved: incident resolved", {})
            self.incident_events.append(
                IncidentEvent(IncidentEventKind.RESOLVED, incident_id, event.alert.fingerprint)
            )

    def _create_incident(self, alert: Alert, key: GroupKey) -> int:
        values: dict[str, Any] = {
            "title": alert.title[:500],
            "status": "triggered",
            "severity": alert.severity.value,
            "severity_rank": alert.severity.rank,
            "service": alert.service,
            "group_key": key.text(),
            "group_labels": key.as_dict(),
            "group_names": key.names_text(),
            "alert_count": 0,
            "open_alert_count": 0,
            "created_at": self.now,
            "updated_at": self.now,
        }
        [incident_id] = insert_rows(self.conn, INCIDENT, [values])
        values.update(
            id=incident_id,
            acknowledged_at=None,
            acknowledged_by=None,
            resolved_at=None,
            resolved_by=None,
        )
        self.incidents[incident_id] = _Incident(values)
        self.open.add(incident_id, key)
        self.new_incident_ids.add(incident_id)
        self._note(
            incident_id,
            "created",
            f"incident opened by {alert.source}: {alert.title}",
            {"fingerprint": alert.fingerprint, "group_key": key.text()},
        )
        return incident_id

    def _raise_severity(self, inc: _Incident, severity: Severity) -> None:
        if severity.rank > inc.values["severity_rank"]:
            inc.values["severity_rank"] = severity.rank
            inc.values["severity"] = severity.value

    def _note(self, incident_id: int, kind: str, message: str, data: dict[str, Any]) -> None:
        self.timeline.append(
            {
                "incident_id": incident_id,
                "at": self.now,
                "kind": kind,
                "actor": "firebell",
                "message": message[:2000],
                "data": data,
            }
        )

    # -- write back ------------------------------------------------------------------
    def flush(self) -> None:
        conn = self.conn
        touched = [e for e in self.episodes.values() if e.latest is not None or e.is_new]
        full_updates: list[dict[str, Any]] = []
        state_updates: list[dict[str, Any]] = []
        counter_updates: list[dict[str, Any]] = []
        new_rows: list[_Episode] = []
        for episode in touched:
            episode.write_state()
            content_changed = episode.latest is not None and _refresh_content(
                episode.values, episode.latest
            )
            if episode.is_new:
                new_rows.append(episode)
            elif content_changed:
                full_updates.append(_bind(episode.values, _ALERT_MUTABLE))
            elif episode.steady == _steady(episode.values):
                counter_updates.append(episode.values)
            else:
                state_updates.append(episode.values)
        # One insert pass per column set (new episodes all have the same columns).
        by_columns: dict[tuple[str, ...], list[tuple[_Episode, dict[str, Any]]]] = {}
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
        for chunk in _chunks(full_updates):
            conn.execute(_UPDATE_ALERT, chunk)
        update_states(conn, state_updates)
        update_counters(conn, counter_updates)
        identity = [
            {"b_fp": v["fingerprint"], "b_id": v["id"], "b_episodes": v["episode"]}
            for v in (e.values for e in touched if e.is_new)
        ]
        for chunk in _chunks(identity):
            conn.execute(_UPDATE_IDENTITY, chunk)
        incidents = [i.values for i in self.incidents.values() if i.dirty]
        for values in incidents:
            values["updated_at"] = self.now
        for chunk in _chunks(incidents):
            conn.execute(_UPDATE_INCIDENT, [_bind(v, _INCIDENT_MUTABLE) for v in chunk])
        for chunk in _chunks(self.timeline):
            conn.execute(insert(TIMELINE), chunk)


_CONTENT_COLUMNS = [
    "source", "severity", "service", "title", "description", "labels", "annotations",
    "source_url", "starts_at", "ends_at",
]  # fmt: skip
# When the report's content changed too (new labels, annotations or texts).
_ALERT_MUTABLE = [*STATE_COLUMNS, *_CONTENT_COLUMNS, "content_hash"]
_INCIDENT_MUTABLE = [
    "status", "severity", "severity_rank", "alert_count", "open_alert_count", "updated_at",
    "acknowledged_at", "acknowledged_by", "resolved_at", "resolved_by",
]  # fmt: skip

_UPDATE_ALERT = (
    update(ALERT)
    .where(ALERT.c.id == bindparam("b_id"))
    .values({name: bindparam("b_" + name) for name in _ALERT_MUTABLE})
)
_UPDATE_INCIDENT = (
    update(INCIDENT)
    .where(INCIDENT.c.id == bindparam("b_id"))
    .values({name: bindparam("b_" + name) for name in _INCIDENT_MUTABLE})
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


def _bind(values: dict[str, Any], names: list[str]) -> dict[str, Any]:
    bound = {"b_" + name: values[name] for name in names}
    bound["b_id"] = values["id"]
    return bound


def _without_id(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k != "id"}


def _key_from_labels(labels: dict[str, str]) -> GroupKey:
    return GroupKey(tuple(labels.items()))


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
        alert.title[:500],
        alert.description[:10000],
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


def quiet_alerts(conn: Connection, source: str, before: datetime, limit: int = 500) -> list[Alert]:
    """Firing alerts of `source` not seen since `before`, as synthetic resolves (the
    Nginx quiet period: an error log has no "resolved" message of its own)."""
    rows = conn.execute(
        select(ALERT)
        .where(
            and_(ALERT.c.source == source, ALERT.c.status == "firing", ALERT.c.last_seen < before)
        )
        .order_by(ALERT.c.id)
        .limit(limit)
    ).mappings()
    return [_resolved_copy(row) for row in rows]


def _resolved_copy(row: Any) -> Alert:
    return Alert(
        source=row["source"],
        fingerprint=row["fingerprint"],
        status=AlertStatus.RESOLVED,
        severity=Severity(row["severity"]),
        service=row["service"],
        title=row["title"],
        description=row["description"],
        labels=row["labels"],
        annotations=row["annotations"],
        source_url=row["source_url"],
        starts_at=row["starts_at"],
        ends_at=row["last_seen"],
        fingerprint_fields=row["fingerprint_fields"],
    )


NowFn = Callable[[], datetime]
