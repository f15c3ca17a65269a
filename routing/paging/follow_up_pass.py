"""The paging worker's follow-up pass: page held incidents whose mute ended, and post a
route's channel updates (group_interval) and reminders (repeat_interval).

Due rows are claimed like escalations (`FOR UPDATE ... SKIP LOCKED` on PostgreSQL, the
one SQLite writer otherwise), and everything a pass starts is keyed by the incident's
opening, so two replicas or a replayed pass never page or post twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from routing.muting.silence_store import SILENCE
from routing.paging.escalation_store import (
    DECISION,
    INCIDENT,
    NOTIFICATION,
    apply_triage,
    channel_row,
    decision_row,
    incident_rounds,
)
from routing.paging.follow_up import (
    FeedKind,
    Hold,
    Release,
    ReleaseKind,
    SilenceEnd,
    decide_feed,
    decide_release,
    feed_key,
    muted_reason,
)
from routing.paging.follow_up_store import FEED, HOLD, feed_of
from routing.paging.incident_triage import IncidentTriages
from routing.paging.policy import PolicyConfig
from routing.paging.triage import TriageOutcome, silence_label
from routing.storage.database import insert_ignoring_duplicates
from routing.storage.timeline import add_timeline


@dataclass(frozen=True, slots=True)
class FollowUpReport:
    """What one pass did, for logs and tests: (incident id, what, why)."""

    holds: list[tuple[int, ReleaseKind, str]] = field(default_factory=list)
    feeds: list[tuple[int, FeedKind, str]] = field(default_factory=list)


def run_follow_ups(
    conn: Connection, config: PolicyConfig, now: datetime, limit: int = 100
) -> FollowUpReport:
    """Act on every hold and channel feed due at `now` (up to `limit` each), in the
    caller's transaction."""
    holds = conn.execute(
        select(HOLD, INCIDENT.c.status)
        .join(INCIDENT, INCIDENT.c.id == HOLD.c.incident_id)
        .where(HOLD.c.state == "held", HOLD.c.recheck_at <= now)
        .order_by(HOLD.c.recheck_at, HOLD.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=[HOLD, INCIDENT])
    ).all()
    feeds = conn.execute(
        select(FEED, INCIDENT.c.status)
        .join(INCIDENT, INCIDENT.c.id == FEED.c.incident_id)
        .where(FEED.c.state == "active", FEED.c.next_check_at <= now)
        .order_by(FEED.c.next_check_at, FEED.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=[FEED, INCIDENT])
    ).all()
    report = FollowUpReport()
    if not holds and not feeds:
        return report
    incident_ids = sorted({r.incident_id for r in [*holds, *feeds]})
    triages = IncidentTriages(conn, config, now, incident_ids)
    rounds = incident_rounds(conn, incident_ids)
    for row in holds:
        release = _release(conn, row, rounds[row.incident_id], triages, now)
        report.holds.append((row.incident_id, release.kind, release.reason))
    for row in feeds:
        kind, reason = _feed(conn, row, rounds[row.incident_id], triages, now)
        report.feeds.append((row.incident_id, kind, reason))
    return report


# ------------------------------------------------------------------ held incidents


def _silence_end(
    conn: Connection, config: PolicyConfig, silence_id: str | None
) -> SilenceEnd | None:
    """How the silence that held an incident ended (None if unknown or still running)."""
    if silence_id is None:
        return None
    for index, silence in enumerate(config.silences):
        if silence_label(silence, index) == silence_id:
            return SilenceEnd(silence_id, silence.ends_at)
    row = conn.execute(
        select(SILENCE.c.ends_at, SILENCE.c.expired_at, SILENCE.c.expired_by).where(
            SILENCE.c.id == silence_id
        )
    ).first()
    if row is None:
        return None
    if row.expired_at is not None:
        return SilenceEnd(silence_id, row.expired_at, row.expired_by)
    return SilenceEnd(silence_id, row.ends_at)


def _release(
    conn: Connection, row: Any, round_no: int, triages: IncidentTriages, now: datetime
) -> Release:
    hold = Hold(
        row.incident_id,
        row.round,
        TriageOutcome(row.outcome),
        row.silence_id,
        row.detail,
        row.held_at,
    )
    decided = triages.of(row.incident_id)
    # How the silence ended only says why a page is late: no query while it still mutes.
    may_page = any(t.outcome is TriageOutcome.ROUTED for _, t in decided)
    ended = _silence_end(conn, triages.config, row.silence_id) if may_page else None
    release = decide_release(
        hold, row.status, round_no, [t for _, t in decided], triages.silences, now, ended
    )
    if release.kind is ReleaseKind.KEEP:
        mute = release.mute
        values: dict[str, Any] = {"recheck_at": release.recheck_at}
        if mute is not None:
            values.update(
                outcome=mute.outcome.value, silence_id=mute.silence_id, detail=mute.detail[:2000]
            )
        conn.execute(update(HOLD).where(HOLD.c.id == row.id).values(**values))
        return release
    if release.kind is ReleaseKind.DROP:
        _finish_hold(conn, row.id, "dropped", release.reason, now)
        return release
    started = False
    routed_fingerprints = [fp for fp, t in decided if t.outcome is TriageOutcome.ROUTED]
    for routed, fingerprint in zip(release.triages, routed_fingerprints, strict=True):
        started |= apply_triage(conn, row.incident_id, routed, round_no, now)
        decision = decision_row(row.incident_id, fingerprint, routed, now, release.reason)
        conn.execute(insert(DECISION).values(decision))
    if not started:  # another pass (or a joining alert) started it already
        _finish_hold(conn, row.id, "paged", "already paged", now)
        return release
    _finish_hold(conn, row.id, "paged", release.reason, now)
    add_timeline(
        conn,
        row.incident_id,
        now,
        "routed_late",
        release.reason,
        data={
            "outcome": "routed",
            "held_by": hold.outcome.value,
            "silence_id": hold.silence_id,
            "held_since": hold.held_at.isoformat(),
            "policies": sorted({e.policy for t in release.triages for e in t.escalations}),
        },
    )
    return release


def _finish_hold(conn: Connection, hold_id: int, state: str, reason: str, now: datetime) -> None:
    conn.execute(
        update(HOLD)
        .where(HOLD.c.id == hold_id)
        .values(state=state, finished_at=now, reason=reason[:500])
    )


# ------------------------------------------------------------------ channel feeds


def _feed(
    conn: Connection, row: Any, round_no: int, triages: IncidentTriages, now: datetime
) -> tuple[FeedKind, str]:
    feed = feed_of(row)
    stale = row.round != round_no
    decision = decide_feed(feed, row.status, None, now, stale)
    if decision.kind is FeedKind.POST:
        muted = muted_reason([t for _, t in triages.of(row.incident_id)])
        if muted is not None:
            decision = decide_feed(feed, row.status, muted, now, stale)
    if decision.kind is FeedKind.DONE:
        conn.execute(
            update(FEED)
            .where(FEED.c.id == row.id)
            .values(state="done", finished_at=now, reason=decision.reason[:500])
        )
        return decision.kind, decision.reason
    assert decision.next_check_at is not None
    if decision.kind is FeedKind.WAIT:
        conn.execute(
            update(FEED).where(FEED.c.id == row.id).values(next_check_at=decision.next_check_at)
        )
        return decision.kind, decision.reason
    notice_no = row.notices + 1
    _queue_post(conn, row, notice_no, decision.step, now)
    conn.execute(
        update(FEED)
        .where(FEED.c.id == row.id)
        .values(
            notices=notice_no,
            last_notice_at=now,
            joined=0,
            update_due_at=None,
            next_check_at=decision.next_check_at,
        )
    )
    add_timeline(
        conn,
        row.incident_id,
        now,
        "channel_update" if feed.update_due_at and feed.update_due_at <= now else "channel_repeat",
        f"{decision.reason} (route {row.route_path})",
        data={"feed_id": row.id, "notice": notice_no, "route_path": row.route_path},
    )
    return decision.kind, decision.reason


def _queue_post(conn: Connection, row: Any, notice_no: int, step: str, now: datetime) -> None:
    key = feed_key(row.incident_id, row.round, notice_no, row.address)
    post = channel_row(row.incident_id, key, row.address, row.route_path, now, now, step)
    insert_ignoring_duplicates(conn, NOTIFICATION, [post])


__all__ = ["FollowUpReport", "run_follow_ups"]
