"""The dedup-and-group shell: applies parsed alerts to the database in the caller's
transaction (raw inbox rows, alert episodes, incidents, timeline) and reports what
happened, so routing can act on new incidents in that same transaction.

Phase one decides per alert in memory (episode_store.py holds the episodes), phase two
replays the incident effects in arrival order (incident_assignment.py), and flush
writes everything back with executemany.

Concurrency: fingerprints are serialized by locking their `alert_identity` rows and
incident changes by locking `group_lock` rows (PostgreSQL FOR UPDATE, always in
sorted order, fingerprints before groups, so two replicas never deadlock; on SQLite
the whole transaction holds the database write lock from BEGIN IMMEDIATE).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, and_, select

from routing.intake.alert import Alert, AlertStatus, Severity
from routing.intake.dedup import DecisionKind, decide
from routing.intake.episode_cache import EpisodeCache
from routing.intake.episode_store import ALERT, EpisodeStore
from routing.intake.grouping import GroupKey, grouping_labels
from routing.intake.incident_assignment import IncidentAssignment, IncidentChange
from routing.intake.source_comments import add_source_comments
from routing.intake.storm_sql import insert_inbox
from routing.intake.submission import (
    AlertOutcome,
    BatchOutcome,
    IngestPolicy,
    Submission,
    SubmissionOutcome,
)
from routing.storage.tables import InboxEntry

# The raw requests `ingest` stores (through storm_sql.insert_inbox, on the driver).
INBOX: Table = InboxEntry.metadata.tables["inbox"]


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
    work.episodes.preload([alert for sub in submissions for alert in sub.alerts])
    outcomes = [
        SubmissionOutcome(inbox_id, [work.decide(alert, sub.quiet_before) for alert in sub.alerts])
        for inbox_id, sub in zip(inbox_ids, submissions, strict=True)
    ]
    work.incidents.apply(work.changes)
    work.episodes.flush()
    work.incidents.flush()
    add_source_comments(conn, [c for sub in submissions for c in sub.comments], now)
    if cache is not None:
        cache.stage(work.episodes.current_episodes())
    return BatchOutcome(outcomes, work.incidents.incident_events)


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


class _Batch:
    """Phase one: the dedup decision per alert, in memory; the decisions that change
    incidents are queued in `changes` for phase two."""

    def __init__(
        self, conn: Connection, now: datetime, policy: IngestPolicy, cache: EpisodeCache | None
    ) -> None:
        self.now = now
        self.policy = policy
        self.episodes = EpisodeStore(conn, cache)
        self.incidents = IncidentAssignment(conn, now, policy.correlate_within)
        self.changes: list[IncidentChange] = []

    def decide(self, alert: Alert, quiet_before: datetime | None = None) -> AlertOutcome:
        current = self.episodes.get(alert.fingerprint)
        decision = decide(
            alert,
            current.state if current else None,
            self.now,
            self.policy.for_source(alert.source),
            quiet_before,
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
        key = GroupKey.of(alert.source, grouping_labels(alert), self.policy.group_by_for(alert))
        group_key = key.text()
        outcome = AlertOutcome(alert.fingerprint, kind, group_key=group_key)
        if decision.state is None or kind is DecisionKind.STALE:
            if current:
                current.outcomes.append(outcome)
                outcome.incident_id = current.values["incident_id"]
            return outcome
        if decision.new_episode:
            current = self.episodes.new_episode(alert, group_key, decision.state)
        assert current is not None
        current.state = decision.state
        current.latest = alert
        outcome.incident_id = current.values["incident_id"]
        current.outcomes.append(outcome)
        if kind in (DecisionKind.NEW, DecisionKind.REOPEN, DecisionKind.RESOLVE):
            self.changes.append(
                IncidentChange(
                    kind, current, alert, decision.became_flapping, key, decision.reopened_flapping
                )
            )
        return outcome


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
